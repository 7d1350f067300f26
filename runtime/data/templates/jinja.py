"""Between our templates and a tokenizer's Jinja chat template, both ways.

- `parse_chat_template`: without `template:` in the config, the tokenizer's own chat template is
  rendered with marker messages and the slots are read off the output (LLaMA-Factory's method).
- `jinja_for`: the Jinja text of one of our templates, written into the tokenizer that is saved
  with a trained model when it has no chat template (or the template asks to replace it).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .template import CONTENT, Slot, Template

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], generation: bool) -> str:
    return str(tokenizer.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False))


def _extra_chars(short: str, long: str) -> str:
    """The characters of `long` left over after matching `short` against it in order."""
    extra = []
    i = 0
    for char in long:
        if i < len(short) and short[i] == char:
            i += 1
        else:
            extra.append(char)
    return "".join(extra)


def parse_chat_template(tokenizer: PreTrainedTokenizerBase, name: str = "tokenizer") -> Template:
    """A template whose slots reproduce the tokenizer's chat template for plain conversations."""
    prefix = str(tokenizer.decode(tokenizer.encode("")))
    user, assistant, system = ({"role": r, "content": CONTENT} for r in ("user", "assistant", "system"))
    system_slot = _render(tokenizer, [system], False)[len(prefix) :]
    user_after_empty_system = _render(tokenizer, [{"role": "system", "content": ""}, user], True)[
        len(prefix) :
    ]
    user_slot = _render(tokenizer, [user], True)[len(prefix) :]
    assistant_slot = _render(tokenizer, [user, assistant], False)[len(prefix) + len(user_slot) :]
    reasoning = "<think>" in assistant_slot
    assistant_slot = assistant_slot.replace("<think>", "").replace("</think>", "").lstrip("\n")
    default_system = ""
    if len(user_slot) > len(user_after_empty_system):
        # The template writes a default system prompt when the conversation has none: take it out
        # of the user slot and keep it as the default system text.
        default_system = _extra_chars(user_after_empty_system, user_slot)
        user_slot = user_slot[len(system_slot.replace(CONTENT, default_system, 1)) :]
    return Template(
        name=name,
        user=(user_slot,),
        assistant=(assistant_slot,),
        system=(system_slot,),
        function=(assistant_slot,),
        observation=(user_slot,),
        prefix=(prefix,) if prefix else (),
        default_system=default_system,
        reasoning=reasoning,
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


def _expression(slots: tuple[Slot, ...], tokenizer: Any, variable: str = "content") -> str:
    """A Jinja expression concatenating the slots, with `variable` in place of {{content}}."""
    items = []
    for slot in slots:
        if isinstance(slot, str):
            before, found, after = slot.partition(CONTENT)
            if before:
                items.append(_quote(before))
            if found:
                items.append(variable)
                if after:
                    items.append(_quote(after))
        elif "token" in slot:
            raise ValueError("named-token slots cannot be written as Jinja text")
        else:
            # the token's text, not {{ eos_token }}: the eos may be replaced later
            token = getattr(tokenizer, slot.get("special", ""), None)
            if token is not None and getattr(tokenizer, f"{slot['special']}_id", None) is not None:
                items.append(_quote(str(token)))
    return " + ".join(items)


def jinja_for(template: Template, tokenizer: Any) -> str:
    prefix = _expression(template.prefix, tokenizer)
    system = _expression(template.system, tokenizer, "system_message")
    user = _expression(template.user, tokenizer)
    assistant = _expression(template.assistant, tokenizer)
    text = "{{ " + prefix + " }}" if prefix else ""
    if template.default_system:
        text += "{% set system_message = " + _quote(template.default_system) + " %}"
    text += (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% endif %}"
    )
    if template.system_in_user:
        text += (
            "{% for message in loop_messages %}"
            "{% if loop.index0 == 0 and system_message is defined %}"
            "{% set content = " + system + " + message['content'] %}"
            "{% else %}{% set content = message['content'] %}{% endif %}"
        )
    else:
        text += "{% if system_message is defined %}{{ " + system + " }}{% endif %}"
        text += "{% for message in loop_messages %}{% set content = message['content'] %}"
    text += (
        "{% if message['role'] == 'user' %}{{ " + user + " }}"
        "{% elif message['role'] == 'assistant' %}{{ " + assistant + " }}{% endif %}{% endfor %}"
    )
    return text


def fix_jinja_template(tokenizer: Any, template: Template) -> None:
    """Give the tokenizer this template's Jinja when it has none, or when the template asks."""
    if tokenizer.chat_template is None or template.replace_jinja_template:
        with contextlib.suppress(ValueError):  # a template with named tokens keeps the tokenizer's own
            tokenizer.chat_template = jinja_for(template, tokenizer)
