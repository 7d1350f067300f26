"""Tokenization per training stage: the stage table, and what each kind of processor needs of a row."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...errors import UserError
from ..example import Example
from .base import IGNORE_INDEX, ProcessOptions, Processor
from .encoder import PieceEncoder

if TYPE_CHECKING:
    from ..templates import BoundTemplate

__all__ = [
    "IGNORE_INDEX",
    "KINDS",
    "STAGE_KINDS",
    "ProcessOptions",
    "Processor",
    "kind_for",
    "make_processor",
]

# stage → processor kind. dpo covers its orpo and simpo losses (pref_loss), as in LLaMA-Factory.
STAGE_KINDS: dict[str, str] = {
    "pt": "pretrain",
    "sft": "supervised",
    "rm": "pairwise",
    "dpo": "pairwise",
    "orpo": "pairwise",
    "simpo": "pairwise",
    "kto": "feedback",
    "ppo": "unsupervised",
}


def kind_for(stage: str, generating: bool = False) -> str:
    """The processor kind; sft data evaluated with generation is encoded prompt-only."""
    if stage not in STAGE_KINDS:
        raise UserError(f"stage: '{stage}' has no data processor; known: {', '.join(STAGE_KINDS)}")
    kind = STAGE_KINDS[stage]
    return "unsupervised" if kind == "supervised" and generating else kind


def _odd_prompt(example: Example) -> str | None:
    if len(example.prompt) % 2 != 1:
        return (
            f"the prompt has {len(example.prompt)} messages; it needs an odd number (ending with a user turn)"
        )
    return None


def _needs_one_answer(example: Example) -> str | None:
    if len(example.response) != 1:
        got = "none" if not example.response else f"{len(example.response)}"
        return f"sft needs exactly one answer to learn, this row has {got} (is the response column missing?)"
    return None


def _needs_two_answers(what: str) -> Callable[[Example], str | None]:
    def check(example: Example) -> str | None:
        if len(example.response) < 2:
            return f"{what} needs two answers, this row has {len(example.response)}"
        return None

    return check


def _needs_text(example: Example) -> str | None:
    if not example.prompt:
        return "pretraining needs a text (prompt column); this row has none"
    return None


# kind → the checks a converted example must pass, in order
REQUIREMENTS: dict[str, tuple[Callable[[Example], str | None], ...]] = {
    "pretrain": (_needs_text,),
    "supervised": (_odd_prompt, _needs_one_answer),
    "pairwise": (_odd_prompt, _needs_two_answers("a ranking row (chosen and rejected)")),
    "feedback": (_odd_prompt, _needs_two_answers("kto (a kto_tag column holding true or false)")),
    "unsupervised": (_odd_prompt,),
}
KINDS = tuple(REQUIREMENTS)


def problem_for(kind: str, example: Example) -> str | None:
    for check in REQUIREMENTS[kind]:
        problem = check(example)
        if problem:
            return problem
    return None


def make_processor(
    kind: str, bound: BoundTemplate, encoder: PieceEncoder, options: ProcessOptions
) -> Processor:
    from .feedback import FeedbackProcessor
    from .packing import PackedSupervisedProcessor
    from .pairwise import PairwiseProcessor
    from .pretrain import PretrainProcessor
    from .supervised import SupervisedProcessor
    from .unsupervised import UnsupervisedProcessor

    if kind == "pretrain":
        return PretrainProcessor(encoder, options)
    table: dict[str, Callable[[BoundTemplate, PieceEncoder, ProcessOptions], Processor]] = {
        "supervised": PackedSupervisedProcessor if options.packing else SupervisedProcessor,
        "pairwise": PairwiseProcessor,
        "feedback": FeedbackProcessor,
        "unsupervised": UnsupervisedProcessor,
    }
    return table[kind](bound, encoder, options)
