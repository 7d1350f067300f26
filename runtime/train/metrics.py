"""Evaluation metrics as LLaMA-Factory reports them, without nltk, jieba or rouge-chinese.

- accuracy (sft, compute_accuracy): per example, the share of answer tokens whose next-token
  prediction is right; averaged over examples.
- bleu-4 (predict_with_generate): nltk's sentence BLEU over *characters*, smoothing method 3.
- rouge-1/2/l: rouge-chinese's F scores over words; rouge-1/2 count distinct n-grams, rouge-l is
  the summary-level longest common subsequence.
- reward accuracy (rm): the share of pairs whose chosen score beats the rejected one.

All scores are percentages rounded to 4 places, as LLaMA-Factory writes them. Words come from
jieba when it is installed (as in LLaMA-Factory); otherwise from `split_words`, which splits
English and numbers as jieba does and Chinese text into single characters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

IGNORE_INDEX = -100
_WORD = re.compile(r"[a-zA-Z0-9]+(?:\.\d+)?%?")
_BLOCK = re.compile(r"([\u4e00-\u9fd5a-zA-Z0-9+#&._%\-]+)")
_SPACE = re.compile(r"(\r\n|\s)")
_ASCII_WORDS = ("AT&T", "C++", "c++", "C#", "c#")  # the ASCII entries of jieba's dictionary
_SENTENCE_BREAKS = (
    (re.compile(r"([。！？?])([^”’])"), r"\1\n\2"),
    (re.compile(r"(\.{6})([^”’])"), r"\1\n\2"),
    (re.compile(r"(…{2})([^”’])"), r"\1\n\2"),
    (re.compile(r"([。！？?][”’])([^，。！？?])"), r"\1\n\2"),
)


# --- words ---------------------------------------------------------------------------------------


def split_words(text: str) -> list[str]:
    """Words as jieba cuts text without Chinese: within runs of letters, digits and +#&._%-,
    jieba's few ASCII dictionary words (C++, C#, AT&T) and letter/digit words (with a decimal part
    or %) are words, and the symbols between them are one word; any other character that is not
    white space is a word of its own, and so is each white-space character. Chinese characters
    become one word each (jieba would use its dictionary)."""
    words: list[str] = []
    for block in _BLOCK.split(text):
        if not block:
            continue
        if _BLOCK.fullmatch(block):
            words += _split_block(block)
        else:  # jieba keeps white space as words ("\r\n" as one), which matters to ROUGE's sentences
            for piece in _SPACE.split(block):
                words += [piece] if _SPACE.fullmatch(piece) else list(piece)
    return words


def _split_block(block: str) -> list[str]:
    words: list[str] = []
    buffer = ""
    position = 0
    while position < len(block):
        if "\u4e00" <= block[position] <= "\u9fd5":
            words += [*_split_run(buffer), block[position]]
            buffer, position = "", position + 1
            continue
        known = next((word for word in _ASCII_WORDS if block.startswith(word, position)), None)
        if known:
            words += [*_split_run(buffer), known]
            buffer, position = "", position + len(known)
        else:
            buffer += block[position]
            position += 1
    return words + _split_run(buffer)


def _split_run(run: str) -> list[str]:
    if len(run) <= 1:
        return [run] if run else []
    words: list[str] = []
    position = 0
    for match in _WORD.finditer(run):
        if match.start() > position:
            words.append(run[position : match.start()])
        words.append(match.group())
        position = match.end()
    if position < len(run):
        words.append(run[position:])
    return words


def _words(text: str) -> list[str]:
    try:
        import jieba  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        return split_words(text)
    return list(jieba.cut(text))


def _rouge_tokens(words: list[str]) -> list[str]:
    """rouge-chinese on the words joined by spaces: cut into sentences at line breaks (and after
    ?, ! or an ellipsis), drop empty sentences, squeeze white space, split at spaces. A sentence
    of white space only is kept and gives one empty word, as rouge-chinese counts it."""
    text = " ".join(words)
    for pattern, replacement in _SENTENCE_BREAKS:
        text = pattern.sub(replacement, text)
    tokens: list[str] = []
    for sentence in text.rstrip().split("\n"):
        if sentence:
            tokens += " ".join(sentence.split()).split(" ")
    return tokens


# --- ROUGE ---------------------------------------------------------------------------------------


def _f1(overlap: int, hypothesis: int, reference: int) -> float:
    precision = overlap / hypothesis if hypothesis else 0.0
    recall = overlap / reference if reference else 0.0
    return 2.0 * (precision * recall) / (precision + recall + 1e-8)


def rouge_n(hypothesis: Sequence[str], reference: Sequence[str], n: int) -> float:
    def grams(tokens: Sequence[str]) -> set[tuple[str, ...]]:
        return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}

    hyp, ref = grams(hypothesis), grams(reference)
    return _f1(len(hyp & ref), len(hyp), len(ref))


def lcs_length(x: Sequence[str], y: Sequence[str]) -> int:
    previous = [0] * (len(y) + 1)
    for item in x:
        current = [0]
        for j, other in enumerate(y):
            current.append(previous[j] + 1 if item == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: Sequence[str], reference: Sequence[str]) -> float:
    if not hypothesis or not reference:
        return 0.0
    return _f1(lcs_length(reference, hypothesis), len(hypothesis), len(reference))


# --- BLEU ----------------------------------------------------------------------------------------


def _ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu4(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """BLEU-4 of one hypothesis against one reference with NIST geometric smoothing (method 3)."""
    numerators, denominators = [], []
    for n in range(1, 5):
        counts = _ngram_counts(hypothesis, n)
        reference_counts = _ngram_counts(reference, n)
        numerators.append(sum(min(count, reference_counts[gram]) for gram, count in counts.items()))
        denominators.append(max(1, sum(counts.values())))
    if numerators[0] == 0:
        return 0.0
    precisions = []
    k = 1
    for numerator, denominator in zip(numerators, denominators, strict=True):
        if numerator == 0:  # smoothed: 1 / (2^k × the n-gram count), k counting the empty orders
            precisions.append(1 / (2**k * denominator))
            k += 1
        else:
            precisions.append(numerator / denominator)
    hyp_len, ref_len = len(hypothesis), len(reference)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(math.fsum(0.25 * math.log(p) for p in precisions))


# --- per example and averaged --------------------------------------------------------------------


def similarity_scores(prediction: str, label: str) -> dict[str, float]:
    """bleu-4, rouge-1, rouge-2, rouge-l of one generated answer, in percent."""
    hyp_words, ref_words = _words(prediction), _words(label)
    if " ".join(hyp_words).split() and " ".join(ref_words).split():
        hypothesis, reference = _rouge_tokens(hyp_words), _rouge_tokens(ref_words)
        rouge = {
            "rouge-1": rouge_n(hypothesis, reference, 1),
            "rouge-2": rouge_n(hypothesis, reference, 2),
            "rouge-l": rouge_l(hypothesis, reference),
        }
    else:
        rouge = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    scores = {key: round(value * 100, 4) for key, value in rouge.items()}
    scores["bleu-4"] = round(sentence_bleu4(list(label), list(prediction)) * 100, 4)
    return scores


def mean_similarity(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    per_example = [similarity_scores(p, r) for p, r in zip(predictions, labels, strict=True)]
    keys = ("rouge-1", "rouge-2", "rouge-l", "bleu-4")
    return {key: sum(s[key] for s in per_example) / len(per_example) if per_example else 0.0 for key in keys}


def token_accuracy(predictions: Any, labels: Any) -> dict[str, float]:
    """predictions: argmax token ids [n, T]; labels [n, T] (IGNORE_INDEX where not learned)."""
    import numpy as np

    scores = []
    for pred, label in zip(np.asarray(predictions), np.asarray(labels), strict=True):
        pred, label = pred[:-1], label[1:]
        mask = label != IGNORE_INDEX
        if mask.any():
            scores.append(float(np.mean(pred[mask] == label[mask])))
    return {"accuracy": float(np.mean(scores)) if scores else 0.0}


def reward_accuracy(chosen_scores: Any, rejected_scores: Any) -> dict[str, float]:
    import numpy as np

    chosen, rejected = np.atleast_1d(np.asarray(chosen_scores)), np.atleast_1d(np.asarray(rejected_scores))
    return {"accuracy": float(np.mean(chosen > rejected)) if chosen.size else 0.0}
