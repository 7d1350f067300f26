"""Token ids to streamed text: incremental detokenization and stop strings.

Decoding one token at a time breaks multi-byte characters and words that merge across tokens, so
the decoder re-decodes a short window and emits only what is new and complete. A stop string may
arrive split over several tokens, so text that could be the start of one is held back until it is
known not to be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_INCOMPLETE = "\ufffd"  # what a tokenizer decodes an unfinished UTF-8 sequence to


@dataclass
class IncrementalDecoder:
    tokenizer: Any
    hidden_ids: frozenset[int] = frozenset()  # tokens that produce no text (special tokens)
    ids: list[int] = field(default_factory=list)
    _prefix: int = 0  # start of the window re-decoded for context
    _read: int = 0  # tokens whose text has been emitted

    def push(self, token_id: int) -> str:
        """Add a token; return the text it completes (often '', sometimes several characters)."""
        if token_id in self.hidden_ids:
            return ""
        self.ids.append(token_id)
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        if len(after) <= len(before) or after.endswith(_INCOMPLETE):
            return ""
        self._prefix, self._read = self._read, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        """The end of generation: text held back as incomplete is emitted as it is."""
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        self._prefix = self._read = len(self.ids)
        return after[len(before) :] if len(after) > len(before) else ""

    def _decode(self, ids: list[int]) -> str:
        if not ids:
            return ""
        return str(self.tokenizer.decode(ids, skip_special_tokens=False))


@dataclass
class StopMatcher:
    """Cuts generated text at the first stop string; never emits a part of one."""

    stops: Sequence[str] = ()
    _pending: str = ""
    stopped: bool = False

    def push(self, text: str) -> str:
        """Add text; return what is safe to emit now. Sets `stopped` when a stop string appears."""
        if self.stopped:
            return ""
        self._pending += text
        hits = [index for index in (self._pending.find(stop) for stop in self.stops if stop) if index >= 0]
        if hits:
            self.stopped = True
            out, self._pending = self._pending[: min(hits)], ""
            return out
        keep = self._held_back()
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return out

    def flush(self) -> str:
        """The end of generation: held-back text is not a stop string after all."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out

    def _held_back(self) -> int:
        """Length of the longest tail of the pending text that begins some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest
