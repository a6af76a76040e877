"""A coroutine started in the caller's turn, as Python 3.12's eager tasks
start one: it runs up to its first wait at once, and a task awaits the rest.

The session door starts writing a client's answer so, in the turn that made
the answer, instead of waking its writer task, which runs a turn later,
behind whatever else that turn queued (on a leader, its messages to the
other members; BENCHMARKS.md, "Where a write's time goes").
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class Started:
    """`coroutine`, run up to its first wait; await it for the rest (once).

    An exception it raised at once is kept without its traceback: the
    traceback would hold the frames that started it, and what they hold,
    in a cycle until the garbage collector runs."""

    __slots__ = ("_coroutine", "_waiting", "_finished", "_result", "_failed")

    def __init__(self, coroutine: Coroutine) -> None:
        self._coroutine = coroutine
        self._waiting: Any = None
        self._finished = False
        self._result: Any = None
        self._failed: BaseException | None = None
        try:
            self._waiting = coroutine.send(None)
        except StopIteration as stop:
            self._finished, self._result = True, stop.value
        except BaseException as err:  # noqa: BLE001 (raised where it is awaited)
            self._finished, self._failed = True, err.with_traceback(None)

    def __await__(self) -> Generator[Any, Any, Any]:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        while not self._finished:
            try:
                try:
                    sent = yield self._waiting
                except BaseException as err:  # noqa: BLE001 (the task's cancellation: passed on)
                    self._waiting = self._coroutine.throw(err)
                else:
                    self._waiting = self._coroutine.send(sent)
            except StopIteration as stop:
                self._finished, self._result = True, stop.value
        return self._result
