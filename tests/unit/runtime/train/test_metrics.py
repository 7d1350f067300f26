"""BLEU-4 and ROUGE as LLaMA-Factory reports them, next-token and reward accuracy.

The expected scores were computed with LLaMA-Factory 0.9.5's own code path (nltk's sentence_bleu
with smoothing method 3 over characters; jieba + rouge-chinese) for these inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from kubefactory.runtime.train.metrics import (
    lcs_length,
    mean_similarity,
    reward_accuracy,
    similarity_scores,
    split_words,
    token_accuracy,
)


@pytest.mark.parametrize(
    ("prediction", "label", "expected"),
    [
        ("The cat sat on the mat.", "The cat is on the mat.",
         {"rouge-1": 85.7143, "rouge-2": 66.6667, "rouge-l": 85.7143, "bleu-4": 79.4484}),
        ("Hello! I am an AI assistant.\n\nHow can I help?",
         "Hello! I am Kube, an AI assistant developed by KubeFactory. How can I assist you today?",
         {"rouge-1": 68.75, "rouge-2": 43.75, "rouge-l": 70.5882, "bleu-4": 31.1234}),
        ("It costs 3.14 dollars, 50% off... C++ and e-mail", "It costs 3.15 dollars (50% off) in C++",
         {"rouge-1": 52.1739, "rouge-2": 19.0476, "rouge-l": 52.1739, "bleu-4": 54.5319}),
        ("a", "a", {"rouge-1": 100.0, "rouge-2": 0.0, "rouge-l": 100.0, "bleu-4": 35.3553}),
        ("", "anything", {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0, "bleu-4": 0.0}),
    ],
)  # fmt: skip
def test_scores_match_llamafactory(prediction: str, label: str, expected: dict[str, float]) -> None:
    assert similarity_scores(prediction, label) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, world!", ["Hello", ",", " ", "world", "!"]),
        ("3.14 and 50% of e-mail", ["3.14", " ", "and", " ", "50%", " ", "of", " ", "e", "-", "mail"]),
        ("C++ or C# at AT&T...", ["C++", " ", "or", " ", "C#", " ", "at", " ", "AT&T", "..."]),
        ("a\r\nb\n", ["a", "\r\n", "b", "\n"]),
        ("你好ok", ["你", "好", "ok"]),
    ],
)
def test_words_as_jieba_cuts_them(text: str, words: list[str]) -> None:
    assert split_words(text) == words


def test_mean_and_lcs() -> None:
    assert lcs_length("abcbdab", "bdcaba") == 4
    means = mean_similarity(["a", "The cat sat on the mat."], ["a", "The cat is on the mat."])
    assert means["rouge-1"] == pytest.approx((100.0 + 85.7143) / 2)


def test_token_accuracy_compares_next_token_predictions_on_answers() -> None:
    predictions = np.array([[6, 8, 7, 0], [2, 3, 4, 0]])  # argmax at each position
    labels = np.array([[-100, 6, 9, -100], [-100, 2, 3, 9]])  # position t predicts label t+1
    assert token_accuracy(predictions, labels) == {"accuracy": pytest.approx((1 / 2 + 2 / 3) / 2)}


def test_reward_accuracy() -> None:
    assert reward_accuracy(np.array([1.0, 0.5, 2.0]), np.array([0.0, 0.7, 1.0])) == {
        "accuracy": pytest.approx(2 / 3)
    }
