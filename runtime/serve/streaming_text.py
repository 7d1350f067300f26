"""Token ids to streamed text: incremental detokenization and stop strings.

Decoding one token at a time breaks multi-byte characters and words that merge across tokens, so
the decoder re-decodes a short window and emits only what is new and complete. A stop string may
arrive split over several tokens, so text that could be the start of one is held back until it is
known not to be.
"""

from __future__ import annotations

from collections import deque
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


class StopAutomaton:
    """Aho–Corasick automaton over the stop strings: one state per prefix of a stop string.

    A state is the longest tail of the text read so far that begins some stop string, so its
    depth is exactly the text to hold back, and `ends[state]` is the longest stop string ending
    there. Reading one character costs amortised O(1) whatever the number or length of the stop
    strings (building costs their total length, once per request)."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.goto: list[dict[str, int]] = [{}]
        self.depth = [0]
        self.ends = [0]
        for stop in stops:
            if stop:
                self._add(stop)
        self.fail = [0] * len(self.goto)
        queue = deque(self.goto[0].values())
        while queue:
            state = queue.popleft()
            for char, child in self.goto[state].items():
                queue.append(child)
                back = self.fail[state]
                while back and char not in self.goto[back]:
                    back = self.fail[back]
                self.fail[child] = self.goto[back].get(char, 0) if state else 0
                self.ends[child] = self.ends[child] or self.ends[self.fail[child]]

    def _add(self, stop: str) -> None:
        state = 0
        for char in stop:
            nxt = self.goto[state].get(char)
            if nxt is None:
                nxt = len(self.goto)
                self.goto[state][char] = nxt
                self.goto.append({})
                self.depth.append(self.depth[state] + 1)
                self.ends.append(0)
            state = nxt
        self.ends[state] = len(stop)

    def step(self, state: int, char: str) -> int:
        while state and char not in self.goto[state]:
            state = self.fail[state]
        return self.goto[state].get(char, 0)


@dataclass
class StopMatcher:
    """Cuts generated text at the first stop string; never emits a part of one."""

    stops: Sequence[str] = ()
    _pending: str = ""
    stopped: bool = False
    _state: int = 0
    _automaton: StopAutomaton | None = None

    def __post_init__(self) -> None:
        self._automaton = StopAutomaton(self.stops) if any(self.stops) else None

    def push(self, text: str) -> str:
        """Add text; return what is safe to emit now. Sets `stopped` when a stop string appears:
        the text is cut where the first stop string to end began."""
        if self.stopped:
            return ""
        automaton = self._automaton
        if automaton is None:
            return text
        self._pending += text
        state = self._state
        start = len(self._pending) - len(text)
        for offset, char in enumerate(text):
            state = automaton.step(state, char)
            if automaton.ends[state]:
                self.stopped = True
                end = start + offset + 1
                out, self._pending = self._pending[: end - automaton.ends[state]], ""
                return out
        self._state = state
        keep = automaton.depth[state]  # the tail that may still become a stop string
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return out

    def flush(self) -> str:
        """The end of generation: held-back text is not a stop string after all."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out
