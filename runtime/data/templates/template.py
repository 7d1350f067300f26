"""A chat template: slots per role, rendered to token ids turn by turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..example import Message

# A slot is text with {{content}}, {"special": "eos_token"|"bos_token"} or {"token": "<x>"}.
Slot = Union[str, dict[str, str]]


@dataclass(frozen=True)
class Template:
    name: str
    user: tuple[Slot, ...] = ("{{content}}",)
    assistant: tuple[Slot, ...] = ("{{content}}", {"special": "eos_token"})
    system: tuple[Slot, ...] = ("{{content}}",)
    function: tuple[Slot, ...] = ()
    observation: tuple[Slot, ...] = ()
    prefix: tuple[Slot, ...] = ()
    tool_format: str = "default"
    default_system: str = ""
    stop_words: tuple[str, ...] = ()
    thought_words: tuple[str, str] = ("<think>\n", "\n</think>\n\n")
    efficient_eos: bool = False
    replace_eos: bool = False
    replace_jinja_template: bool = False
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
        raise ValueError(f"unexpected role {role!r}")

    def encode_turns(
        self,
        tokenizer: PreTrainedTokenizerBase,
        messages: list[Message],
        system: str = "",
        tools: str = "",
    ) -> list[list[int]]:
        """Token ids per message. Turn 0 carries the prefix and the system (and tools) text."""
        system = system or self.default_system
        encoded: list[list[int]] = []
        for index, message in enumerate(messages):
            slots: list[Slot] = []
            if index == 0:
                slots += self.prefix
                if system or tools:
                    slots += _fill(self.system, system + self._tools_text(tools))
            slots += _fill(self.slots_for(message.role), self._message_text(message))
            encoded.append(slots_to_ids(tokenizer, slots))
        return encoded

    def encode_pairs(
        self,
        tokenizer: PreTrainedTokenizerBase,
        messages: list[Message],
        system: str = "",
        tools: str = "",
    ) -> list[tuple[list[int], list[int]]]:
        """(prompt ids, response ids) per exchange."""
        turns = self.encode_turns(tokenizer, messages, system, tools)
        return [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]

    def _tools_text(self, tools: str) -> str:
        if not tools:
            return ""
        from .tools import render_tools

        return render_tools(self.tool_format, tools)

    def _message_text(self, message: Message) -> str:
        if message.role == "function":
            from .tools import render_function_call

            return render_function_call(self.tool_format, message.content)
        return message.content


def _fill(slots: tuple[Slot, ...], content: str) -> list[Slot]:
    return [slot.replace("{{content}}", content) if isinstance(slot, str) else slot for slot in slots]


def slots_to_ids(tokenizer: PreTrainedTokenizerBase, slots: list[Slot]) -> list[int]:
    ids: list[int] = []
    for slot in slots:
        if isinstance(slot, str):
            if slot:
                ids += tokenizer.encode(slot, add_special_tokens=False)
        elif "token" in slot:
            ids.append(int(tokenizer.convert_tokens_to_ids(slot["token"])))  # type: ignore[arg-type]
        else:
            token_id = getattr(tokenizer, f"{slot['special']}_id", None)
            if token_id is not None:
                ids.append(int(token_id))
    return ids
