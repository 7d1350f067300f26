"""Turn rendered pieces into token ids, a whole batch at a time.

LLaMA-Factory tokenizes every filled slot with its own `tokenizer.encode` call. We tokenize the
very same strings, but gather those of a whole batch into one call of the Rust tokenizer
(`encode_batch`), which runs in parallel and skips the per-call Python overhead. The ids are
identical: each string is still tokenized on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..templates.template import Turn

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class PieceEncoder:
    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self._backend = _fast_backend(tokenizer)

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        if self._backend is not None:
            return [encoding.ids for encoding in self._backend.encode_batch_fast(texts, add_special_tokens=False)]
        return list(self.tokenizer(texts, add_special_tokens=False)["input_ids"])

    def encode_turns(self, turns: list[Turn]) -> list[list[int]]:
        """Token ids per turn: its texts tokenized one by one, its token ids kept."""
        texts = [piece for turn in turns for piece in turn if type(piece) is str]
        encoded = iter(self.encode_texts(texts))
        out: list[list[int]] = []
        for turn in turns:
            ids: list[int] = []
            for piece in turn:
                if type(piece) is int:
                    ids.append(piece)  # type: ignore[arg-type]
                else:
                    ids += next(encoded)
            out.append(ids)
        return out


def _fast_backend(tokenizer: Any) -> Any:
    """The Rust tokenizer when calling it directly gives what `tokenizer.encode` gives: no
    truncation or padding configured on it, special tokens handled the usual way."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False) or not hasattr(backend, "encode_batch_fast"):
        return None
    tokenizer("", add_special_tokens=False)  # resets truncation/padding and special-token splitting
    if backend.truncation is not None or backend.padding is not None:
        return None
    if bool(getattr(tokenizer, "split_special_tokens", False)) != bool(backend.encode_special_tokens):
        return None
    return backend
