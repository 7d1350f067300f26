"""The built-in templates are data: every required name is there, with LLaMA-Factory's flags."""

from __future__ import annotations

import pytest
from kubefactory.runtime.data.templates import builtin_templates, get_template
from kubefactory.runtime.data.templates.registry import _resolve, template_from_data
from kubefactory.runtime.errors import UserError

REQUIRED = [
    "default",
    "empty",
    "alpaca",
    "chatml",
    "qwen",
    "qwen3",
    "qwen3_nothink",
    "llama2",
    "llama3",
    "llama4",
    "mistral",
    "gemma",
    "gemma2",
    "gemma3",
    "glm4",
    "deepseek3",
    "deepseekr1",
    "phi4",
    "yi",
    "vicuna",
    "zephyr",
    "cohere",
    "olmo",
    "smollm2",
    "falcon",
]


def test_every_required_template_is_registered() -> None:
    assert set(REQUIRED) <= set(builtin_templates())


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        (
            "qwen",
            {"replace_eos": True, "stop_words": ("<|im_end|>",), "tool_format": "qwen", "reasoning": False},
        ),
        ("qwen3", {"reasoning": True, "default_system": "", "tool_format": "qwen"}),
        ("qwen3_nothink", {"reasoning": False, "default_system": ""}),
        ("deepseekr1", {"reasoning": True, "prefix": ({"special": "bos_token"},)}),
        ("gemma2", {"efficient_eos": True, "replace_eos": False, "system_in_user": True}),
        ("glm4", {"efficient_eos": True, "assistant": ("\n{{content}}",), "tool_format": "glm4"}),
        ("falcon", {"efficient_eos": True, "assistant": ("{{content}}\n",)}),
        ("mistral", {"system_in_user": True, "tool_format": "mistral"}),
        ("llama3", {"tool_format": "llama3", "stop_words": ("<|eot_id|>", "<|eom_id|>")}),
        ("vicuna", {"assistant": ("{{content}}", {"special": "eos_token"}), "replace_jinja_template": True}),
    ],
)
def test_template_flags_follow_llamafactory(name: str, flags: dict[str, object]) -> None:
    template = get_template(name)
    for key, value in flags.items():
        assert getattr(template, key) == value, key


def test_extends_overrides_only_the_keys_it_names() -> None:
    table = {
        "base": {"user": ["U {{content}}"], "stop_words": ["x"]},
        "child": {"extends": "base", "stop_words": []},
    }
    assert _resolve("child", table) == {"user": ["U {{content}}"], "stop_words": []}


def test_circular_extends_is_an_error() -> None:
    with pytest.raises(ValueError, match="extends unknown or circular template 'a'"):
        _resolve("a", {"a": {"extends": "b"}, "b": {"extends": "a"}})


def test_unknown_key_in_template_data_is_named() -> None:
    with pytest.raises(ValueError, match=r"template 'x': unknown keys \['usr'\]"):
        template_from_data("x", {"usr": ["{{content}}"]})


def test_efficient_eos_template_without_assistant_has_plain_content() -> None:
    assert template_from_data("x", {"efficient_eos": True}).assistant == ("{{content}}",)


def test_unknown_template_suggests_the_closest_name() -> None:
    with pytest.raises(
        UserError, match="template: 'qwen2' is unknown \\(did you mean 'qwen'\\?\\); known: alpaca"
    ):
        get_template("qwen2")
