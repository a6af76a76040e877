"""`DataWatch` and `ChildrenWatch`: call a function with a node's current state
now and after every change, for as long as it wants (kazoo's watchers).

Each change re-reads the node and sets the next one-shot watch in the same
call, so no change is missed; changes that come in a burst may be seen as
one. After a reconnect the state is read again. The function runs on the
client's callback thread; returning False stops the watch.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from coord_client.paths import validate_path
from coord_client.recipes.waiting import retrying
from coord_client.stat import ZnodeStat

if TYPE_CHECKING:
    from coord_client.client import Client


class _Watch(ABC):
    """What both watchers share: the decorator form, one refresh at a time,
    re-reading after a reconnect, stopping."""

    def __init__(self, client: Client, path: str, func: Callable[..., Any] | None) -> None:
        self._client = client
        self._path = validate_path(path)
        self._func: Callable[..., Any] | None = None
        self._stopped = False
        self._run_lock = threading.Lock()
        if func is not None:
            self(func)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Attach `func` and call it with the current state (decorator form)."""
        if self._func is not None:
            raise TypeError("a function is already attached to this watch")
        self._func = func
        self._client.add_listener(self._on_state)
        self._refresh(None)
        return func

    @abstractmethod
    def _refresh(self, event: WatchedEvent | None) -> None:
        """Read the state, set the next watch, and call the function if it changed."""

    def _on_state(self, state: KazooState) -> None:
        if state is KazooState.CONNECTED:
            self._watcher(None)
        elif state is KazooState.LOST:
            self._on_lost()

    def _on_lost(self) -> None:  # noqa: B027 (a hook: by default nothing to do)
        """The session is gone; a restarted client's CONNECTED re-reads."""

    def _watcher(self, event: WatchedEvent | None) -> None:
        """A refresh for a watch or a reconnect: a session that ended is not an
        error there."""
        with contextlib.suppress(SessionExpiredError, ConnectionLoss):
            self._refresh(event)

    def _deliver(self, *args: Any) -> None:
        """Call the function; stop when it returns False."""
        assert self._func is not None
        if self._func(*args) is False:
            self._stop()

    def _stop(self) -> None:
        self._stopped = True
        self._client.remove_listener(self._on_state)


class DataState:
    """What a DataWatch remembers, whichever way it reads (shared with asyncio)."""

    def __init__(self, client: Any, path: str, func: Callable[..., Any] | None = None) -> None:
        self._version: int | None = None  # mzxid last passed on; None for no node
        self._called = False
        super().__init__(client, path, func)  # type: ignore[call-arg] (the watch's)

    def _changed(self, stat: ZnodeStat | None) -> bool:
        """Whether a read with `stat` is news to the function (then it is told)."""
        version = stat.mzxid if stat is not None else None
        if self._called and version == self._version:
            return False
        self._called, self._version = True, version
        return True


class ChildrenState:
    """What a ChildrenWatch remembers, whichever way it reads (shared with asyncio)."""

    _stop: Callable[[], None]

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
        super().__init__(client, path, func)  # type: ignore[call-arg] (the watch's)

    def _news(self, names: list[str], event: WatchedEvent | None) -> tuple[Any, ...] | None:
        """The function's arguments when `names` changed, else None."""
        if names == self._prior:
            return None
        self._prior = names
        return (names, event) if self._send_event else (names,)

    def _on_lost(self) -> None:
        if not self._allow_session_lost:
            self._stop()


class DataWatch(DataState, _Watch):
    """`func(data, stat)` now and on every change of `path`; `(None, None)` while
    the node does not exist (so it also waits for a node to appear)."""

    def _refresh(self, event: WatchedEvent | None) -> None:
        with self._run_lock:
            if self._stopped:
                return
            data, stat = self._read()
            if self._changed(stat):
                self._deliver(data, stat)

    def _read(self) -> tuple[bytes | None, ZnodeStat | None]:
        """(data, stat) with a watch set, or (None, None) with an exists watch set."""
        client, path, watch = self._client, self._path, self._watcher
        while True:
            try:
                return retrying(client, lambda: client.get(path, watch))
            except NoNodeError:
                stat = retrying(client, lambda: client.exists(path, watch))
                if stat is None:
                    return None, None  # else created between the two reads: read it


class ChildrenWatch(ChildrenState, _Watch):
    """`func(children)` now and on every change of `path`'s children
    (`func(children, event)` with `send_event`). Stops for good when the node
    does not exist or is deleted; with `allow_session_lost=False`, also when
    the session is lost."""

    def _refresh(self, event: WatchedEvent | None) -> None:
        with self._run_lock:
            if self._stopped:
                return
            try:
                names = retrying(
                    self._client, lambda: self._client.get_children(self._path, self._watcher)
                )
            except NoNodeError:
                self._stop()
                return
            if (args := self._news(names, event)) is not None:
                self._deliver(*args)
