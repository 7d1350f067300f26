"""Streamed text must equal the full decode, never split a character, never show part of a stop string."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from kubefactory.runtime.serve.streaming_text import IncrementalDecoder, StopMatcher


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.parametrize(
    "text", ["Hello world, how are you?", "naïve café — 東京 🚀 done", "  spaced\n\nlines  "]
)
def test_decoder_pieces_add_up_to_the_full_decode(tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(token) for token in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == tokenizer.decode(ids) == text
    assert not any("\ufffd" in piece for piece in pieces), pieces


def test_decoder_holds_back_a_character_split_over_byte_tokens(tokenizer) -> None:
    ids = tokenizer.encode("🚀", add_special_tokens=False)
    assert len(ids) > 1, "the emoji must span several byte-level tokens for this test to mean anything"
    decoder = IncrementalDecoder(tokenizer)
    assert [decoder.push(token) for token in ids[:-1]] == [""] * (len(ids) - 1)
    assert decoder.push(ids[-1]) == "🚀"


def test_decoder_flush_emits_an_unfinished_tail(tokenizer) -> None:
    ids = tokenizer.encode("ab🚀", add_special_tokens=False)
    decoder = IncrementalDecoder(tokenizer)
    streamed = "".join(decoder.push(token) for token in ids[:-1])
    assert streamed == "ab"
    assert decoder.flush() == tokenizer.decode(ids[:-1])[len("ab") :]


@pytest.mark.parametrize(
    ("stops", "chunks", "emitted", "stopped"),
    [
        ((), ["Hello", " world"], ["Hello", " world"], False),
        (("END",), ["Hello E", "N", "D and more"], ["Hello ", "", ""], True),
        (("END",), ["Hello E", "N", "x"], ["Hello ", "", "ENx"], False),
        (("\n\n",), ["a\n", "\nb"], ["a", ""], True),
        (("stop", "halt"), ["we ha", "lt now"], ["we ", ""], True),
        (("ab", "abc"), ["xab"], ["x"], True),
        (("world",), ["hello world"], ["hello "], True),
    ],
)
def test_stop_matcher(stops: tuple[str, ...], chunks: list[str], emitted: list[str], stopped: bool) -> None:
    matcher = StopMatcher(stops)
    assert [matcher.push(chunk) for chunk in chunks] == emitted
    assert matcher.stopped is stopped


def test_stop_matcher_flush_releases_held_text_unless_stopped() -> None:
    matcher = StopMatcher(("END",))
    assert matcher.push("the E") == "the "
    assert matcher.flush() == "E"
    matcher = StopMatcher(("END",))
    matcher.push("the END")
    assert matcher.flush() == ""
    assert matcher.push("more") == ""


def _first_stop(text: str, stops: tuple[str, ...]) -> str | None:
    """The reference: text up to where the first stop string to end begins (None: no stop)."""
    for end in range(1, len(text) + 1):
        found = [stop for stop in stops if stop and text[:end].endswith(stop)]
        if found:
            return text[: end - max(len(stop) for stop in found)]
    return None


@pytest.mark.parametrize("seed", range(40))
def test_stop_matcher_agrees_with_a_plain_search(seed: int) -> None:
    rng = random.Random(seed)
    stops = tuple(
        "".join(rng.choice("abc") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 4))
    )
    text = "".join(rng.choice("abcd") for _ in range(30))
    cuts = sorted(rng.sample(range(1, len(text)), 5))
    chunks = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)])]
    matcher = StopMatcher(stops)
    emitted = "".join(matcher.push(chunk) for chunk in chunks)
    expected = _first_stop(text, stops)
    if expected is None:
        assert not matcher.stopped
        assert emitted + matcher.flush() == text
    else:
        assert matcher.stopped and emitted == expected


def test_stop_matching_cost_per_token_does_not_grow_with_the_stop_strings() -> None:
    """Finding: 201 stop strings of 2.3 kB each made every token cost ~10^9 character comparisons
    (held-back text × stop strings), 52 s for one request. The automaton reads each character once."""
    rng = random.Random(0)
    # one stop string the text keeps almost reaching (so 2.3 kB stay held back), 200 it never does
    stops = [*("".join(rng.choice("ab") for _ in range(2300)) for _ in range(200)), "a" * 2300 + "!"]
    started = time.perf_counter()
    matcher = StopMatcher(stops)
    emitted = "".join(matcher.push("a") for _ in range(3000))
    elapsed = time.perf_counter() - started
    assert not matcher.stopped and len(emitted) == 3000 - 2300
    assert elapsed < 10, f"{elapsed:.1f}s for 3000 tokens"  # the quadratic matcher: minutes
