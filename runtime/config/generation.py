"""Generation keys: decoding for chat, api and predict_with_generate."""

from __future__ import annotations

from .base import ArgGroup, arg


class GeneratingArguments(ArgGroup):
    do_sample: bool = arg(True, "Sample; false decodes greedily.")
    temperature: float = arg(0.95, "Sampling temperature.", ge=0)
    top_p: float = arg(
        0.7, "Nucleus sampling: keep the smallest token set with this probability mass.", gt=0, le=1
    )
    top_k: int = arg(50, "Keep only the k most likely tokens when sampling.", ge=0)
    num_beams: int = arg(1, "Beams of beam search; 1 means none.", ge=1)
    max_length: int = arg(1024, "Maximum total length of prompt and output; max_new_tokens wins when set.")
    max_new_tokens: int = arg(1024, "Maximum number of generated tokens.", gt=0)
    repetition_penalty: float = arg(1.0, "Penalty for repeated tokens; 1.0 means none.", gt=0)
    length_penalty: float = arg(1.0, "Exponential length penalty of beam search.")
    skip_special_tokens: bool = arg(True, "Drop special tokens from decoded text.")
