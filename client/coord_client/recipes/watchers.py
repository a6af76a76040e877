"""`DataWatch` and `ChildrenWatch`: call a function with a node's current state
now and after every change, for as long as it wants (kazoo's watchers).

Each change re-reads the node and sets the next one-shot watch in the same
call, so no change is missed; changes that come in a burst may be seen as
one. After a reconnect the state is read again. Returning False stops the
watch. Threaded, the function runs on the client's callback thread. With
the asyncio client it may be a coroutine function; `await
client.DataWatch(path, fn)` returns once `fn` has been called with the
current state, and the decorator form starts that first call as a task.
"""

from __future__ import annotations

import contextlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from typing import Any

from coord_api.paths import validate_path
from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.steps import Await, Steps, call, holding
from coord_client.stat import ZnodeStat


class _Watch(Recipe, ABC):
    """What both watchers share: the decorator form, one refresh at a time,
    re-reading after a reconnect, stopping."""

    def __init__(self, client: Any, path: str, func: Callable[..., Any] | None) -> None:
        self.client = client
        self._path = validate_path(path)
        self._func: Callable[..., Any] | None = None
        self._stopped = False
        self._run_lock = self.driver.mutex()
        self._first: Any = None  # the first refresh (a task, asyncio)
        if func is not None:
            self(func)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Attach `func` and call it with the current state (decorator form)."""
        if self._func is not None:
            raise TypeError("a function is already attached to this watch")
        self._func = func
        self.client.add_listener(self._on_state)
        self._first = self.driver.start(self.client, self._locked_refresh(None))
        return func

    def __await__(self) -> Generator[Any, None, Any]:
        """Wait for the first call of the function (its read's error, if any)."""
        if self._first is None or not self.driver.asynchronous:
            raise TypeError("only an asyncio watch with a function attached can be awaited")
        yield from self._first.__await__()
        return self

    @abstractmethod
    def _refresh(self, event: WatchedEvent | None) -> Steps[None]:
        """Read the state, set the next watch, and call the function if it changed."""

    def _locked_refresh(self, event: WatchedEvent | None) -> Steps[None]:
        return holding(self._run_lock, self._live_refresh(event))

    def _live_refresh(self, event: WatchedEvent | None) -> Steps[None]:
        if not self._stopped:
            yield from self._refresh(event)

    def _on_state(self, state: KazooState) -> Any:
        if state is KazooState.CONNECTED:
            return self._watcher(None)
        if state is KazooState.LOST:
            self._on_lost()
        return None

    def _on_lost(self) -> None:
        """The session is gone; a restarted client's CONNECTED re-reads."""

    def _watcher(self, event: WatchedEvent | None) -> Any:
        """A refresh for a watch or a reconnect (a coroutine, asyncio, which
        the client runs as a task)."""
        return self.driver.run(self.client, self._quiet_refresh(event))

    def _quiet_refresh(self, event: WatchedEvent | None) -> Steps[None]:
        """A session that ended is not an error here."""
        with contextlib.suppress(SessionExpiredError, ConnectionLoss):
            yield from self._locked_refresh(event)

    def _deliver(self, *args: Any) -> Steps[None]:
        """Call the function (awaiting a coroutine's result); stop when it returns False."""
        assert self._func is not None
        result = self._func(*args)
        if self.driver.asynchronous and inspect.isawaitable(result):
            result = yield Await(result)
        if result is False:
            self._stop()

    def _stop(self) -> None:
        self._stopped = True
        self.client.remove_listener(self._on_state)


class DataWatch(_Watch):
    """`func(data, stat)` now and on every change of `path`; `(None, None)` while
    the node does not exist (so it also waits for a node to appear)."""

    def __init__(self, client: Any, path: str, func: Callable[..., Any] | None = None) -> None:
        self._version: int | None = None  # mzxid last passed on; None for no node
        self._called = False
        super().__init__(client, path, func)

    def _refresh(self, event: WatchedEvent | None) -> Steps[None]:
        data, stat = yield from self._read()
        version = stat.mzxid if stat is not None else None
        if not self._called or version != self._version:
            self._called, self._version = True, version
            yield from self._deliver(data, stat)

    def _read(self) -> Steps[tuple[bytes | None, ZnodeStat | None]]:
        """(data, stat) with a watch set, or (None, None) with an exists watch set."""
        while True:
            try:
                return (yield call("get", self._path, watch=self._watcher))
            except NoNodeError:
                if (yield call("exists", self._path, watch=self._watcher)) is None:
                    return None, None  # else created between the two reads: read it


class ChildrenWatch(_Watch):
    """`func(children)` now and on every change of `path`'s children
    (`func(children, event)` with `send_event`). Stops for good when the node
    does not exist or is deleted; with `allow_session_lost=False`, also when
    the session is lost."""

    def __init__(
        self,
        client: Any,
        path: str,
        func: Callable[..., Any] | None = None,
        allow_session_lost: bool = True,
        send_event: bool = False,
    ) -> None:
        self._allow_session_lost = allow_session_lost
        self._send_event = send_event
        self._prior: list[str] | None = None
        super().__init__(client, path, func)

    def _refresh(self, event: WatchedEvent | None) -> Steps[None]:
        try:
            names = yield call("get_children", self._path, watch=self._watcher)
        except NoNodeError:
            self._stop()
            return
        if names != self._prior:
            self._prior = names
            yield from self._deliver(*((names, event) if self._send_event else (names,)))

    def _on_lost(self) -> None:
        if not self._allow_session_lost:
            self._stop()
