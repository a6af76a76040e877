"""`DataWatch` and `ChildrenWatch` for the asyncio client (kazoo's watchers).

As the threaded ones: each change re-reads the node and sets the next
one-shot watch in the same call, so no change is missed; a reconnect reads
again; the function returning False stops the watch. The function may be a
coroutine function. `await client.DataWatch(path, fn)` returns once `fn` has
been called with the current state; the decorator form starts it as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from coord_client.paths import validate_path
from coord_client.recipes.watchers import ChildrenState, DataState
from coord_client.stat import ZnodeStat

from .base import retrying

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class _Watch(ABC):
    """The decorator form, one refresh at a time, re-reading after a reconnect."""

    def __init__(self, client: Client, path: str, func: Callable[..., Any] | None) -> None:
        self._client = client
        self._path = validate_path(path)
        self._func: Callable[..., Any] | None = None
        self._stopped = False
        self._run_lock = asyncio.Lock()
        self._first: asyncio.Future[None] | None = None
        if func is not None:
            self(func)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Attach `func` and call it with the current state (soon: await the
        watch to wait for that first call)."""
        if self._func is not None:
            raise TypeError("a function is already attached to this watch")
        self._func = func
        self._client.add_listener(self._on_state)
        self._first = asyncio.ensure_future(self._refresh(None))
        return func

    def __await__(self) -> Generator[Any, None, Any]:
        """Wait for the first call of the function (its read's error, if any)."""
        if self._first is None:
            raise TypeError("no function is attached to this watch")
        yield from self._first.__await__()
        return self

    @abstractmethod
    async def _refresh(self, event: WatchedEvent | None) -> None:
        """Read the state, set the next watch, and call the function if it changed."""

    async def _on_state(self, state: KazooState) -> None:
        if state is KazooState.CONNECTED:
            await self._watcher(None)
        elif state is KazooState.LOST:
            self._on_lost()

    def _on_lost(self) -> None:  # noqa: B027 (a hook: by default nothing to do)
        """The session is gone; a restarted client's CONNECTED re-reads."""

    async def _watcher(self, event: WatchedEvent | None) -> None:
        with contextlib.suppress(SessionExpiredError, ConnectionLoss):
            await self._refresh(event)

    async def _deliver(self, *args: Any) -> None:
        """Call the function (awaiting a coroutine); stop when it returns False."""
        assert self._func is not None
        result = self._func(*args)
        if inspect.isawaitable(result):
            result = await result
        if result is False:
            self._stop()

    def _stop(self) -> None:
        self._stopped = True
        self._client.remove_listener(self._on_state)


class DataWatch(DataState, _Watch):
    """`func(data, stat)` now and on every change of `path`; `(None, None)`
    while the node does not exist."""

    async def _refresh(self, event: WatchedEvent | None) -> None:
        async with self._run_lock:
            if self._stopped:
                return
            data, stat = await self._read()
            if self._changed(stat):
                await self._deliver(data, stat)

    async def _read(self) -> tuple[bytes | None, ZnodeStat | None]:
        client, path, watch = self._client, self._path, self._watcher
        while True:
            try:
                return await retrying(client, lambda: client.get(path, watch))
            except NoNodeError:
                if await retrying(client, lambda: client.exists(path, watch)) is None:
                    return None, None  # else created between the two reads: read it


class ChildrenWatch(ChildrenState, _Watch):
    """`func(children)` now and on every change of `path`'s children
    (`func(children, event)` with `send_event`); stops when the node goes."""

    async def _refresh(self, event: WatchedEvent | None) -> None:
        async with self._run_lock:
            if self._stopped:
                return
            client, path = self._client, self._path
            try:
                names = await retrying(client, lambda: client.get_children(path, self._watcher))
            except NoNodeError:
                self._stop()
                return
            if (args := self._news(names, event)) is not None:
                await self._deliver(*args)
