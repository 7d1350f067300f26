"""resolve_template: which template a config gets, with its overrides, and the tokenizer fixed."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.data.templates import resolve_template
from kubefactory.runtime.errors import UserError


def config(**values: Any) -> Any:
    return validate_config(values)


def test_named_template_with_overrides(tokenizer: Any) -> None:
    template = resolve_template(
        config(template="qwen3", default_system="S", enable_thinking=False), tokenizer
    )
    assert (template.name, template.default_system, template.enable_thinking) == ("qwen3", "S", False)


def test_without_template_the_tokenizers_chat_template_is_parsed(tokenizer: Any) -> None:
    template = resolve_template(config(), tokenizer)
    assert template.name == "tokenizer"
    assert template.user == ("<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n",)


def test_without_template_or_chat_template_empty_is_used(tokenizer: Any) -> None:
    tokenizer.chat_template = None
    assert resolve_template(config(), tokenizer).name == "empty"


def test_efficient_eos_template_refuses_train_on_prompt(tokenizer: Any) -> None:
    with pytest.raises(UserError, match="train_on_prompt: template 'glm4' appends eos once at the end"):
        resolve_template(config(template="glm4", train_on_prompt=True), tokenizer)


def test_bad_tool_format_is_a_user_error(tokenizer: Any) -> None:
    with pytest.raises(UserError, match="tool_format 'xml' is not supported"):
        resolve_template(config(template="qwen", tool_format="xml"), tokenizer)


def test_the_tokenizer_gets_the_templates_eos_and_stop_words(tokenizer: Any) -> None:
    resolve_template(config(template="llama3"), tokenizer)
    assert tokenizer.eos_token == "<|eot_id|>"
    assert "<|eom_id|>" in tokenizer.all_special_tokens
    assert tokenizer.pad_token is not None


def test_a_chat_template_that_cannot_render_markers_is_a_user_error(tokenizer: Any) -> None:
    tokenizer.chat_template = "{{ raise_exception('only user turns') }}"
    with pytest.raises(
        UserError, match="template is not set and the tokenizer's chat template cannot be parsed"
    ):
        resolve_template(config(), tokenizer)


def test_replace_eos_needs_stop_words(tokenizer: Any) -> None:
    from kubefactory.runtime.data.templates.registry import template_from_data
    from kubefactory.runtime.data.templates.tokenizer_fix import fix_tokenizer

    with pytest.raises(ValueError, match="template 'x' replaces eos but has no stop words"):
        fix_tokenizer(tokenizer, template_from_data("x", {"replace_eos": True}))
