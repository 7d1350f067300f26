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
        """Each text's ids. A text that occurs several times in the batch (a template's fixed text,
        a shared system prompt or tool list) is tokenized once."""
        if not texts:
            return []
        unique: dict[str, int] = {}
        order = [unique.setdefault(text, len(unique)) for text in texts]
        distinct = list(unique)
        if self._backend is not None:
            ids = [
                encoding.ids
                for encoding in self._backend.encode_batch_fast(distinct, add_special_tokens=False)
            ]
        else:
            ids = list(self.tokenizer(distinct, add_special_tokens=False)["input_ids"])
        return [ids[index] for index in order]

    def encode_turns(self, turns: list[Turn]) -> list[list[int]]:
        """Token ids per turn: its texts tokenized one by one, its token ids kept. The lists may be
        shared between equal turns: read them, never change them in place."""
        texts = [piece for turn in turns for piece in turn if type(piece) is str]
        encoded = self.encode_texts(texts)
        out: list[list[int]] = []
        position = 0
        for turn in turns:
            if len(turn) == 1 and type(turn[0]) is str:  # the common case: one text, its ids as they are
                out.append(encoded[position])
                position += 1
                continue
            ids: list[int] = []
            for piece in turn:
                if type(piece) is int:
                    ids.append(piece)  # type: ignore[arg-type]
                else:
                    ids += encoded[position]
                    position += 1
            out.append(ids)
        return out


def _fast_backend(tokenizer: Any) -> Any:
    """The Rust tokenizer when calling it directly gives what `tokenizer.encode` gives: no
    truncation or padding configured on it, special tokens handled the usual way."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if (
        backend is None
        or not getattr(tokenizer, "is_fast", False)
        or not hasattr(backend, "encode_batch_fast")
    ):
        return None
    tokenizer("", add_special_tokens=False)  # resets truncation/padding and special-token splitting
    if backend.truncation is not None or backend.padding is not None:
        return None
    if bool(getattr(tokenizer, "split_special_tokens", False)) != bool(backend.encode_special_tokens):
        return None
    return backend
