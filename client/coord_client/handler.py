"""Threads meeting user code: the callback thread and the result of an async call.

As kazoo's SequentialThreadingHandler, every watch, listener and `rawlink`
callback runs on one thread, one at a time and in order, so callbacks never
race each other (and a slow one delays the rest).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from coord_client.exceptions import CoordTimeoutError

_STOP = object()


class CallbackThread:
    """Runs the callbacks handed to `run` sequentially on its own thread."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="coord-callbacks", daemon=True)
            self._thread.start()

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def stop(self) -> None:
        """Stop once what is queued has run (without waiting when called from a callback)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        if thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            fn, args = item
            try:
                fn(*args)
            except Exception:
                self._log.exception("callback %r failed", fn)


class AsyncResult:
    """The eventual result of an `*_async` call (kazoo's IAsyncResult).

    Most results are only ever linked to (or looked at once done), so the
    Event a waiting thread needs is made by the first thread that waits; the
    one lock all results share guards the hand-over, held for a few
    instructions at a time."""

    __slots__ = ("_schedule", "_done", "_waiter", "_links", "value", "exception")
    _guard = threading.Lock()

    def __init__(self, schedule: Callable[..., None]) -> None:
        self._schedule = schedule  # runs a callback on the callback thread
        self._done = False
        self._waiter: threading.Event | None = None
        self._links: list[Callable[[AsyncResult], Any]] = []
        self.value: Any = None
        self.exception: BaseException | None = None

    def set(self, value: Any = None) -> None:
        self.value = value
        self._complete()

    def set_exception(self, exception: BaseException) -> None:
        self.exception = exception
        self._complete()

    def ready(self) -> bool:
        return self._done

    def successful(self) -> bool:
        return self._done and self.exception is None

    def wait(self, timeout: float | None = None) -> bool:
        with self._guard:
            if self._done:
                return True
            if self._waiter is None:
                self._waiter = threading.Event()
            waiter = self._waiter
        return waiter.wait(timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The result, or raise the call's exception; CoordTimeoutError if not in time."""
        if not self.wait(timeout if block else 0):
            raise CoordTimeoutError("the request was not answered in time")
        if self.exception is not None:
            raise self.exception
        return self.value

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def rawlink(self, callback: Callable[[AsyncResult], Any]) -> None:
        """Run `callback(self)` on the callback thread once the result is there."""
        with self._guard:
            if not self._done:
                self._links.append(callback)
                return
        self._schedule(callback, self)

    def unlink(self, callback: Callable[[AsyncResult], Any]) -> None:
        with self._guard:
            if callback in self._links:
                self._links.remove(callback)

    def _complete(self) -> None:
        with self._guard:
            self._done = True
            links, self._links = self._links, []
            waiter = self._waiter
        if waiter is not None:
            waiter.set()
        for callback in links:
            self._schedule(callback, self)
