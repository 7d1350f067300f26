"""Rendering: which slots each message gets, reasoning think blocks, overrides, token slots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubefactory.runtime.data.errors import RowError
from kubefactory.runtime.data.example import Message
from kubefactory.runtime.data.templates import get_template
from kubefactory.runtime.data.templates.registry import template_from_data
from kubefactory.runtime.data.templates.template import Template

U, A = Message("user", "q1"), Message("assistant", "a1")
U2, A2 = Message("user", "q2"), Message("assistant", "a2")
THINK = "<think>\n\n</think>\n\n"


class FakeTokenizer:
    """Only what binding reads: special token ids and named tokens."""

    bos_token_id: int | None = None
    eos_token_id: int | None = 2
    unk_token_id = None
    unk_token = None

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return {"<x>": 7}.get(token)


def render(
    name: str | Template, messages: list[Message], system: str = "", tools: str = ""
) -> list[list[Any]]:
    template = get_template(name) if isinstance(name, str) else name
    return template.bind(FakeTokenizer()).render(messages, system, tools)


def test_prefix_and_system_come_with_the_first_message_only() -> None:
    turns = render("default", [U, A, U2, A2], "S")
    assert turns == [
        ["System: S", 2, "\n", "Human: q1", 2, "\nAssistant:"],
        ["a1", 2, "\n"],
        ["Human: q2", 2, "\nAssistant:"],
        ["a2", 2, "\n"],
    ]


def test_default_system_fills_in_an_empty_system() -> None:
    assert (
        render("qwen", [U, A])[0][0]
        == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    )
    assert render("qwen", [U, A], "Mine")[0][0] == "<|im_start|>system\nMine<|im_end|>\n"


def test_system_in_user_writes_the_system_inside_the_first_user_slot() -> None:
    assert render("mistral", [U, A, U2, A2], "S")[0] == ["[INST] S\n\nq1[/INST]"]
    assert render("mistral", [U, A, U2, A2], "S")[2] == ["[INST] q2[/INST]"]


def test_bos_slot_is_left_out_when_the_tokenizer_has_no_bos() -> None:
    assert render("llama3", [U, A])[0] == [
        "<|start_header_id|>user<|end_header_id|>\n\nq1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    ]


def test_named_token_slot_becomes_its_id_and_a_missing_one_is_an_error() -> None:
    assert render(template_from_data("t", {"prefix": [{"token": "<x>"}]}), [U, A])[0][0] == 7
    with pytest.raises(
        ValueError, match="template 't' needs the token '<y>', which the tokenizer does not have"
    ):
        render(template_from_data("t", {"prefix": [{"token": "<y>"}]}), [U, A])


TOOLS = json.dumps(
    [
        {
            "name": "add",
            "description": "Add.",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
        }
    ]
)


def test_tools_text_follows_the_system_text() -> None:
    system = render("qwen", [U, A], "S", TOOLS)[0][0]
    assert system.startswith("<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions")
    assert '{"type": "function", "function": {"name": "add"' in system


def test_function_and_observation_messages_use_their_slots() -> None:
    call = Message("function", json.dumps({"name": "add", "arguments": {"a": 1}}))
    turns = render("qwen", [U, call, Message("observation", "2"), A])
    assert turns[1] == ['<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call><|im_end|>\n']
    assert turns[2] == [
        "<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    ]


def test_function_message_keeps_a_thought_in_front_of_the_call() -> None:
    call = Message(
        "function", "<think>\nadd them\n</think>\n\n" + json.dumps({"name": "add", "arguments": {}})
    )
    turn = render("qwen3", [U, call])[1]
    assert turn == [
        '<think>\nadd them\n</think>\n\n<tool_call>\n{"name": "add", "arguments": {}}\n</tool_call><|im_end|>\n'
    ]


def test_broken_function_call_is_a_row_error() -> None:
    with pytest.raises(RowError, match="a function call is not valid JSON"):
        render("qwen", [U, Message("function", "{oops")])


def test_unknown_role_is_a_row_error() -> None:
    with pytest.raises(RowError, match="message 0 has role 'robot'"):
        render("qwen", [Message("robot", "x")])  # type: ignore[arg-type]


def pairs(
    template: Template, messages: list[Message], discard: bool = False
) -> list[tuple[list[Any], list[Any]]]:
    return template.bind(FakeTokenizer()).multiturn(messages, "", "", discard)


def test_reasoning_template_learns_an_empty_think_block_by_default() -> None:
    out = pairs(get_template("qwen3"), [U, A, U2, A2])
    assert [response[0] for _, response in out] == [THINK, THINK]


def test_reasoning_template_without_thinking_puts_the_block_in_the_prompt() -> None:
    template = get_template("qwen3").with_options(enable_thinking=False)
    thought = Message("assistant", "<think>\nhmm\n</think>\n\na2")
    out = pairs(template, [U, A, U2, thought])
    assert out[1] == (["<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n", THINK], ["a2<|im_end|>\n"])


def test_mask_history_keeps_only_the_last_thought() -> None:
    first = Message("assistant", "<think>\nold\n</think>\n\na1")
    last = Message("assistant", "<think>\nnew\n</think>\n\na2")
    out = pairs(get_template("qwen3"), [U, first, U2, last], discard=True)
    assert out[0][1] == ["a1<|im_end|>\n"]
    assert out[1][1] == ["<think>\nnew\n</think>\n\na2<|im_end|>\n"]


def test_oneturn_drops_history_thoughts_unless_preserved() -> None:
    first = Message("assistant", "<think>\nold\n</think>\n\na1")
    template = get_template("qwen3")
    prompt, response = template.bind(FakeTokenizer()).oneturn([U, first, U2, A2])
    assert "a1<|im_end|>\n" in prompt and response == [THINK, "a2<|im_end|>\n"]
    kept = template.with_options(preserve_thinking=True).bind(FakeTokenizer()).oneturn([U, first, U2, A2])[0]
    assert "<think>\nold\n</think>\n\na1<|im_end|>\n" in kept


def test_tool_format_override_resets_the_function_slots() -> None:
    template = get_template("qwen").with_options(tool_format="default")
    assert template.tool_format == "default"
    assert template.function == ("{{content}}", {"special": "eos_token"})
    assert get_template("glm4").with_options(tool_format="qwen").function == ("{{content}}",)  # efficient_eos


def test_unknown_tool_format_is_named() -> None:
    with pytest.raises(
        ValueError,
        match="tool_format 'json' is not supported; supported: default, glm4, llama3, mistral, qwen",
    ):
        get_template("qwen").with_options(tool_format="json")


def test_enable_thinking_none_counts_as_off_for_reasoning_templates_only() -> None:
    assert get_template("qwen3").with_options(enable_thinking=None).enable_thinking is None
    assert get_template("qwen").with_options(enable_thinking=False).enable_thinking is True


def test_encode_pairs_tokenizes_each_piece(tokenizer: Any) -> None:
    out = get_template("qwen").encode_pairs(tokenizer, [U, A], "S")
    source, target = out[0]
    expected = tokenizer.encode("<|im_start|>system\nS<|im_end|>\n", add_special_tokens=False)
    expected += tokenizer.encode(
        "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False
    )
    assert source == expected
    assert target == tokenizer.encode("a1<|im_end|>\n", add_special_tokens=False)


def test_an_unknown_slot_is_named() -> None:
    with pytest.raises(ValueError, match="template 't': unknown slot \\{'special': 'sep_token'\\}"):
        render(template_from_data("t", {"prefix": [{"special": "sep_token"}]}), [U, A])


def test_a_tokenizer_without_eos_is_named() -> None:
    class NoEos(FakeTokenizer):
        eos_token_id = None

    with pytest.raises(ValueError, match="the tokenizer has no eos token; fix_tokenizer\\(\\) sets one"):
        _ = get_template("qwen").bind(NoEos()).eos_token_id
