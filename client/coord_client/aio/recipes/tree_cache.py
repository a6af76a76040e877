"""`TreeCache` for the asyncio client: the threaded cache's nodes, rules and
events (recipes/tree_cache.py `TreeState`), following ONE persistent
recursive watch on its root and read with coroutines.

`await cache.start()` sets the watch, then loads the subtree (a level at a
time, each level's reads in flight together) while holding the cache's
lock, so changes made during the load are applied after it, in order; a
reconnect reads the subtree again and compares. Listeners may be coroutine
functions (those run as tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.recipes.tree_cache import Listener, NodeData, TreeEvent, TreeState
from coord_client.stat import ZnodeStat

from .base import retrying
from .subtree import GONE, Following

if TYPE_CHECKING:
    from coord_client.aio.client import Client

__all__ = ["NodeData", "TreeCache", "TreeEvent"]


class TreeCache(Following, TreeState):
    """`await start()`, `listen(fn)`, `get_data(path)`, `get_children(path)`, `await close()`."""

    _client: Client

    def __init__(self, client: Client, path: str) -> None:
        super().__init__(client, path, contextlib.nullcontext())  # one thread: no guard
        self._follow(client, self._root)

    async def start(self) -> None:
        """Watch the subtree and load it; INITIALIZED once loaded."""
        self._starting()
        async with self._lock:
            await self._start_following()
            await self._load()
            self._emit(TreeEvent.INITIALIZED)

    async def close(self) -> None:
        """Stop watching and forget the subtree."""
        async with self._lock:
            await self._stop_following()
            self._forget()

    def _tell(self, listener: Listener, event: TreeEvent) -> None:
        self._call(listener, event)

    async def _on_event(self, event: WatchedEvent) -> None:
        async with self._lock:
            if not self._to_read(event):
                return
            try:
                data, stat = await retrying(self._client, lambda: self._client.get(event.path))
            except GONE:
                return  # deleted since (its DELETED event follows), or the session is gone
            self._put(event.path, data, stat)

    async def _reload(self) -> None:
        self._drop_missing(await self._load())

    def _state_changed(self, state: KazooState) -> None:
        self._emit(self._state_event(state))

    async def _load(self) -> set[str]:
        """Read the subtree level by level (each level's reads at once); the paths found."""
        found: set[str] = set()
        level = [self._root]
        while level:
            reads = await asyncio.gather(*(self._read(path) for path in level))
            paths, level = level, []
            for path, read in zip(paths, reads, strict=True):
                if read is not None:  # else deleted meanwhile
                    level += self._loaded(path, *read)
                    found.add(path)
        return found

    async def _read(self, path: str) -> tuple[bytes, ZnodeStat, list[str]] | None:
        """The node's data, stat and child names; None when it is not there."""
        node, names = await asyncio.gather(
            self._client.get(path), self._client.get_children(path), return_exceptions=True
        )
        for result in (node, names):
            if isinstance(result, NoNodeError):
                return None
            if isinstance(result, BaseException):
                raise result
        return (*node, names)
