"""One reconcile per object at a time; a trigger during a reconcile makes it go round once more."""

from __future__ import annotations

import threading

import pytest
from kubefactory.operator.coalesce import Coalescer


def test_a_trigger_during_a_run_is_coalesced_into_one_more_round() -> None:
    coalescer = Coalescer()
    started, release = threading.Event(), threading.Event()
    rounds: list[int] = []

    def slow() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            started.set()
            release.wait(5)

    runner = threading.Thread(target=coalescer.run, args=("job", slow))
    runner.start()
    started.wait(5)
    assert coalescer.run("job", slow) is False  # coalesced: the running reconcile will go again
    assert coalescer.run("job", slow) is False  # twice is still one more round
    assert coalescer.run("other", lambda: None) is True  # other objects are not held up
    release.set()
    runner.join(5)
    assert rounds == [0, 1]


def test_a_reconcile_may_ask_to_go_again() -> None:
    answers = iter([True, True, False])
    calls: list[bool] = []

    def flaky() -> bool:
        calls.append(True)
        return next(answers)

    assert Coalescer().run("job", flaky) is True
    assert len(calls) == 3


def test_an_error_releases_the_object() -> None:
    coalescer = Coalescer()

    def boom() -> None:
        raise RuntimeError("api down")

    with pytest.raises(RuntimeError):
        coalescer.run("job", boom)
    assert coalescer.run("job", lambda: None) is True
