"""At most one reconcile per object at a time, and no reconcile lost.

Events arrive from several watch streams at once (the custom resource, its Jobs, pods and
ConfigMaps). A trigger for an object that is already being reconciled only marks it dirty; the
running reconcile then goes round once more, with everything observed afresh. Two reconciles of
one object never overlap, so neither can act on the other's half-written decisions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable


class Coalescer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[Hashable] = set()
        self._dirty: set[Hashable] = set()

    def run(self, key: Hashable, reconcile: Callable[[], bool | None]) -> bool:
        """Run ``reconcile`` for ``key`` now, or leave it to the run in progress. A reconcile that
        returns True asks to go round again (e.g. it lost a write race). False when coalesced."""
        with self._lock:
            if key in self._running:
                self._dirty.add(key)
                return False
            self._running.add(key)
        try:
            while True:
                again = reconcile()
                with self._lock:
                    if not again and key not in self._dirty:
                        self._running.discard(key)
                        return True
                    self._dirty.discard(key)
        except BaseException:
            with self._lock:
                self._running.discard(key)
                self._dirty.discard(key)
            raise
