"""A tokenizer's Jinja chat template → our slots, and our templates → Jinja."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.data.templates.jinja import fix_jinja_template, jinja_for, parse_chat_template

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "Bye"},
    {"role": "assistant", "content": "See you."},
]


def our_text(tokenizer: Any, template: Any, conversation: list[dict[str, str]]) -> str:
    system = conversation[0]["content"] if conversation[0]["role"] == "system" else ""
    messages = [Message(m["role"], m["content"]) for m in conversation if m["role"] != "system"]  # type: ignore[arg-type]
    ids = [i for turn in template.encode_turns(tokenizer, messages, system) for i in turn]
    return str(tokenizer.decode(ids))


def test_parsed_template_reproduces_the_tokenizers_own(tokenizer: Any) -> None:
    template = parse_chat_template(tokenizer)
    assert template.default_system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert template.user == ("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",)
    assert template.assistant == ("{{content}}<|im_end|>\n",)
    for conversation in (CONVERSATION, CONVERSATION[1:]):
        expected = tokenizer.apply_chat_template(conversation, tokenize=False)
        assert our_text(tokenizer, template, conversation) == expected


def test_a_think_block_in_the_answer_slot_makes_a_reasoning_template(tokenizer: Any) -> None:
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ '<|im_start|>assistant\n<think>\n\n</think>\n\n' + m['content'] + '<|im_end|>\n' }}"
        "{% else %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    template = parse_chat_template(tokenizer)
    assert template.reasoning
    assert template.assistant == ("{{content}}<|im_end|>\n",)  # the think block is the template's to add


@pytest.mark.parametrize("name", ["default", "alpaca", "vicuna", "llama2", "chatml", "zephyr"])
def test_jinja_of_a_template_renders_what_the_template_encodes(tokenizer: Any, name: str) -> None:
    tokenizer.add_special_tokens({"bos_token": "<s>"})
    template = get_template(name)
    tokenizer.chat_template = jinja_for(template, tokenizer)
    for conversation in (CONVERSATION, CONVERSATION[1:]):
        assert tokenizer.apply_chat_template(conversation, tokenize=False) == our_text(
            tokenizer, template, conversation
        )


def test_fix_jinja_template_replaces_only_when_asked(tokenizer: Any) -> None:
    own = tokenizer.chat_template
    fix_jinja_template(tokenizer, get_template("qwen"))
    assert tokenizer.chat_template == own
    fix_jinja_template(tokenizer, get_template("default"))  # replace_jinja_template: true
    assert tokenizer.chat_template == jinja_for(get_template("default"), tokenizer)
    tokenizer.chat_template = None
    fix_jinja_template(tokenizer, get_template("llama3"))
    assert "<|start_header_id|>" in tokenizer.chat_template
