"""A chat template: slots per role, rendered turn by turn into pieces of text and token ids.

A slot list is rendered in order: a string is text in which `{{content}}` is replaced (once),
`{"special": "bos_token" | "eos_token"}` is that token of the tokenizer (left out when the tokenizer
has none) and `{"token": "<x>"}` is a named token. Every filled string is tokenized on its own,
as LLaMA-Factory does, so that the same slots give the same token ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..errors import RowError
from ..example import Message

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Slot = str | dict[str, str]
Piece = str | int  # text still to be tokenized, or a token id
Turn = list[Piece]

CONTENT = "{{content}}"


@dataclass(frozen=True)
class Template:
    name: str
    user: tuple[Slot, ...] = (CONTENT,)
    assistant: tuple[Slot, ...] = (CONTENT, {"special": "eos_token"})
    system: tuple[Slot, ...] = (CONTENT,)
    function: tuple[Slot, ...] = ()  # () → the assistant slots
    observation: tuple[Slot, ...] = ()  # () → the user slots
    prefix: tuple[Slot, ...] = ()
    tool_format: str = "default"
    default_system: str = ""
    stop_words: tuple[str, ...] = ()
    thought_words: tuple[str, str] = ("<think>\n", "\n</think>\n\n")
    tool_call_words: tuple[str, str] = ("<tool_call>", "</tool_call>")
    efficient_eos: bool = False
    replace_eos: bool = False
    replace_jinja_template: bool = False
    # Llama 2 style: the system text is written in front of the first user message, inside its slot.
    system_in_user: bool = False
    # Reasoning templates add an empty think block to answers that have none.
    reasoning: bool = False
    enable_thinking: bool | None = True
    preserve_thinking: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def slots_for(self, role: str) -> tuple[Slot, ...]:
        if role == "user":
            return self.user
        if role == "assistant":
            return self.assistant
        if role == "function":
            return self.function or self.assistant
        if role == "observation":
            return self.observation or self.user
        raise RowError(f"unexpected role {role!r}; roles are user, assistant, function and observation")

    def with_options(
        self,
        *,
        tool_format: str | None = None,
        default_system: str | None = None,
        enable_thinking: bool | str | None = "keep",
        preserve_thinking: bool | None = None,
    ) -> Template:
        """The template with a config's overrides. A new tool_format also resets the function slots
        to plain content (+ eos), as LLaMA-Factory does."""
        changes: dict[str, Any] = {}
        if tool_format is not None:
            from .tools import check_tool_format

            check_tool_format(tool_format)
            plain: tuple[Slot, ...] = (
                (CONTENT,) if self.efficient_eos else (CONTENT, {"special": "eos_token"})
            )
            changes.update(tool_format=tool_format, function=plain)
        if default_system is not None:
            changes["default_system"] = default_system
        if self.reasoning:
            if enable_thinking != "keep":  # None is a value here: LLaMA-Factory treats it as false
                changes["enable_thinking"] = enable_thinking
            if preserve_thinking is not None:
                changes["preserve_thinking"] = preserve_thinking
        return replace(self, **changes) if changes else self

    def bind(self, tokenizer: PreTrainedTokenizerBase) -> BoundTemplate:
        return BoundTemplate(self, _special_ids(tokenizer), tokenizer)

    # The original single-example API, kept for callers that tokenize one example at a time.
    def encode_turns(
        self, tokenizer: PreTrainedTokenizerBase, messages: list[Message], system: str = "", tools: str = ""
    ) -> list[list[int]]:
        return [
            _encode_pieces(tokenizer, turn) for turn in self.bind(tokenizer).render(messages, system, tools)
        ]

    def encode_pairs(
        self, tokenizer: PreTrainedTokenizerBase, messages: list[Message], system: str = "", tools: str = ""
    ) -> list[tuple[list[int], list[int]]]:
        """(prompt ids, response ids) per exchange."""
        pairs = self.bind(tokenizer).multiturn(messages, system, tools)
        return [
            (_encode_pieces(tokenizer, source), _encode_pieces(tokenizer, target)) for source, target in pairs
        ]


def _encode_pieces(tokenizer: PreTrainedTokenizerBase, turn: Turn) -> list[int]:
    ids: list[int] = []
    for piece in turn:
        if isinstance(piece, int):
            ids.append(piece)
        else:
            ids += tokenizer.encode(piece, add_special_tokens=False)
    return ids


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int | None]:
    return {"bos_token": tokenizer.bos_token_id, "eos_token": tokenizer.eos_token_id}


class BoundTemplate:
    """A template joined to one tokenizer: slots compiled to text and token ids, ready to render
    thousands of examples without looking anything up again."""

    def __init__(self, template: Template, specials: dict[str, int | None], tokenizer: Any) -> None:
        self.template = template
        self._tokenizer = tokenizer
        self._specials = specials
        t = template
        self._user = self._compile(t.user)
        self._assistant = self._compile(t.assistant)
        self._system = self._compile(t.system)
        self._function = self._compile(t.slots_for("function"))
        self._observation = self._compile(t.slots_for("observation"))
        self._prefix = self._compile(t.prefix)
        self.thought = t.thought_words[0] + t.thought_words[1]
        self._thought_re = re.compile(
            f"{re.escape(t.thought_words[0])}(.*?){re.escape(t.thought_words[1])}", re.DOTALL
        )

    def _compile(self, slots: tuple[Slot, ...]) -> list[Piece]:
        parts: list[Piece] = []
        for slot in slots:
            if isinstance(slot, str):
                parts.append(slot)
            elif "token" in slot:
                token_id = self._tokenizer.convert_tokens_to_ids(slot["token"])
                unk = getattr(self._tokenizer, "unk_token_id", None)
                if token_id is None or (
                    token_id == unk and slot["token"] != getattr(self._tokenizer, "unk_token", None)
                ):
                    raise ValueError(
                        f"template '{self.template.name}' needs the token {slot['token']!r}, which the tokenizer "
                        "does not have; use the model's own tokenizer or add it with add_special_tokens"
                    )
                parts.append(int(token_id))
            elif slot.get("special") in self._specials:
                token_id = self._specials[slot["special"]]
                if token_id is not None:  # a tokenizer without bos simply writes none
                    parts.append(int(token_id))
            else:
                raise ValueError(f"template '{self.template.name}': unknown slot {slot!r}")
        return parts

    @staticmethod
    def _fill(parts: list[Piece], content: str, out: Turn) -> None:
        for part in parts:
            if isinstance(part, int):
                out.append(part)
            else:
                text = part.replace(CONTENT, content, 1)
                if text:
                    out.append(text)

    def _system_text(self, system: str, tools: str) -> str:
        tool_text = ""
        if tools:
            from .tools import render_tools

            tool_text = render_tools(self.template.tool_format, tools)
        return system + tool_text

    def _function_text(self, content: str, with_words: bool) -> str:
        from .tools import render_function_call

        t = self.template
        if not with_words:
            return render_function_call(t.tool_format, content)
        return render_function_call(t.tool_format, content, t.thought_words, t.tool_call_words)

    def render(self, messages: list[Message], system: str = "", tools: str = "") -> list[Turn]:
        """Pieces per message. Message 0 carries the prefix and the system (and tools) text."""
        t = self.template
        system = system or t.default_system
        turns: list[Turn] = []
        for index, message in enumerate(messages):
            turn: Turn = []
            fused = ""
            if index == 0:
                self._fill(self._prefix, "", turn)
                if system or tools:
                    text = self._system_text(system, tools)
                    if t.system_in_user:
                        first = self._system[0] if self._system else CONTENT
                        fused = first.replace(CONTENT, text, 1) if isinstance(first, str) else ""
                    else:
                        self._fill(self._system, text, turn)
            role = message.role
            if role == "user":
                self._fill(self._user, fused + message.content, turn)
            elif role == "assistant":
                self._fill(self._assistant, message.content, turn)
            elif role == "observation":
                self._fill(self._observation, message.content, turn)
            elif role == "function":
                self._fill(self._function, self._function_text(message.content, not t.system_in_user), turn)
            else:
                raise RowError(f"message {index} has role {role!r}, which a chat template cannot write")
            turns.append(turn)
        return turns

    # --- reasoning ---------------------------------------------------------------------------

    def _without_thought(self, message: Message) -> Message:
        return Message(message.role, self._thought_re.sub("", message.content).lstrip("\n"))

    def _has_thought(self, content: str) -> bool:
        words = self.template.thought_words
        return words[0].strip() in content or words[1].strip() in content

    def multiturn(
        self, messages: list[Message], system: str = "", tools: str = "", discard_history_cot: bool = False
    ) -> list[tuple[Turn, Turn]]:
        """(prompt pieces, response pieces) per exchange, as sft learns them."""
        t = self.template
        if t.reasoning:
            messages = list(messages)
            if t.enable_thinking is False:
                for i in range(1, len(messages), 2):
                    messages[i] = self._without_thought(messages[i])
            if discard_history_cot:
                for i in range(1, len(messages) - 2, 2):  # the last answer keeps its thought
                    messages[i] = self._without_thought(messages[i])
        turns = self.render(messages, system, tools)
        if t.reasoning:
            indices = [len(messages) - 2] if discard_history_cot else range(0, len(messages), 2)
            for i in indices:
                if not self._has_thought(messages[i + 1].content):
                    if t.enable_thinking:
                        turns[i + 1] = [self.thought, *turns[i + 1]]  # learned
                    else:
                        turns[i] = [*turns[i], self.thought]  # part of the prompt
        return [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]

    def oneturn(self, messages: list[Message], system: str = "", tools: str = "") -> tuple[Turn, Turn]:
        """Everything before the last message as the prompt, the last message as the response."""
        t = self.template
        if t.reasoning:
            messages = list(messages)
            if not t.preserve_thinking:
                for i in range(1, len(messages) - 2, 2):
                    messages[i] = self._without_thought(messages[i])
            if t.enable_thinking is False:
                messages[-1] = self._without_thought(messages[-1])
        turns = self.render(messages, system, tools)
        prompt: Turn = [piece for turn in turns[:-1] for piece in turn]
        response = turns[-1]
        if t.reasoning and not self._has_thought(messages[-1].content):
            if t.enable_thinking:
                response = [self.thought, *response]
            else:
                prompt.append(self.thought)
        return prompt, response

    @cached_property
    def eos_token_id(self) -> int:
        eos = self._specials.get("eos_token")
        if eos is None:
            raise ValueError("the tokenizer has no eos token; fix_tokenizer() sets one")
        return eos
