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
    """The eventual result of an `*_async` call (kazoo's IAsyncResult)."""

    def __init__(self, schedule: Callable[..., None]) -> None:
        self._schedule = schedule  # runs a callback on the callback thread
        self._done = threading.Event()
        self._lock = threading.Lock()
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
        return self._done.is_set()

    def successful(self) -> bool:
        return self.ready() and self.exception is None

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The result, or raise the call's exception; CoordTimeoutError if not in time."""
        if not self._done.wait(timeout if block else 0):
            raise CoordTimeoutError("the request was not answered in time")
        if self.exception is not None:
            raise self.exception
        return self.value

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def rawlink(self, callback: Callable[[AsyncResult], Any]) -> None:
        """Run `callback(self)` on the callback thread once the result is there."""
        with self._lock:
            if not self._done.is_set():
                self._links.append(callback)
                return
        self._schedule(callback, self)

    def unlink(self, callback: Callable[[AsyncResult], Any]) -> None:
        with self._lock:
            if callback in self._links:
                self._links.remove(callback)

    def _complete(self) -> None:
        with self._lock:
            self._done.set()
            links, self._links = self._links, []
        for callback in links:
            self._schedule(callback, self)
