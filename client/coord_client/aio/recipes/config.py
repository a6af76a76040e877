"""`Config` for the asyncio client: the threaded Config's view and rules
(recipes/config.py `ConfigView`: one transaction per update, a view shown only
when it is one state of the tree), read with coroutines.

Create it with `config = await client.Config(path, codec)`: the view is
loaded, and the persistent recursive watch set, when the await returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from coord_client.paths import join
from coord_client.recipes.config import Codec, ConfigView, OnChange, Snapshot, snapshot_of

from .base import create_once

if TYPE_CHECKING:
    from coord_client.aio.client import Client

_GONE = (SessionExpiredError, ConnectionLoss, NoNodeError)


class Config(ConfigView):
    """Name -> bytes (or `codec.loads(bytes)`) for the children of `path`;
    `on_change` callbacks may be coroutine functions."""

    def __init__(self, client: Client, path: str, codec: Codec | None = None) -> None:
        self._client = client
        self._init_view(path, codec)
        self._lock = asyncio.Lock()  # one refresh at a time
        self._armed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started: asyncio.Task[Config] | None = None

    def __await__(self) -> Generator[Any, None, Config]:
        """Load the view and start following the tree (once)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        return self._started.__await__()

    async def _start(self) -> Config:
        await create_once(self._client, self.path, b"0", makepath=True)
        self._client.add_listener(self._on_state)
        async with self._lock:
            await self._arm()
            await self._refresh(None)
        return self

    async def close(self) -> None:
        """Stop following the tree; the view keeps its last state."""
        async with self._lock:
            self._closed = True
            self._client.remove_listener(self._on_state)
            if self._armed:
                self._armed = False
                with contextlib.suppress(*_GONE):
                    await self._client.remove_watch(self.path, self._on_event)

    async def update(self, mapping: Mapping[str, Any], version: int | None = None) -> int:
        """Write every key of `mapping` in one transaction; the new version.
        Given `version`, BadVersionError and no change when the view has been
        updated since."""
        encoded = self._encoded(mapping)
        while True:
            names, stat = await self._client.get_children(self.path, include_data=True)
            expected = version if version is not None else stat.version
            transaction = self._client.transaction()
            self._fill(transaction, encoded, names, expected)
            if self._applied(await transaction.commit(), version):
                break
        async with self._lock:
            await self._refresh(None)  # so that this caller reads its own update
        return expected + 1

    def _tell(self, callback: OnChange, values: dict[str, Any]) -> None:
        result = callback(values)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _arm(self) -> None:
        if not self._armed:
            await self._client.add_watch(self.path, self._on_event, recursive=True)
            self._armed = True

    async def _on_event(self, event: WatchedEvent) -> None:
        async with self._lock:
            if self._wanted(event):
                with contextlib.suppress(*_GONE):
                    await self._refresh(event.zxid)

    async def _on_state(self, state: KazooState) -> None:
        async with self._lock:
            if self._closed:
                return
            if state is KazooState.LOST:
                self._armed = False  # the watch went with the session
            elif state is KazooState.CONNECTED:
                with contextlib.suppress(*_GONE):
                    await self._arm()
                    await self._refresh(None)

    async def _refresh(self, bound: int | None) -> None:
        """As the threaded Config's: show a read only when it is the state at
        `bound`; without one, read until a read stays within the last."""
        snapshot = await self._read()
        if bound is not None:
            self._offer(snapshot, bound)
            return
        while (bound := self._unseen(snapshot)) is not None:
            snapshot = await self._read()
            if self._offer(snapshot, bound):
                return

    async def _read(self) -> Snapshot:
        names, stat = await self._client.get_children(self.path, include_data=True)
        paths = [join(self.path, name) for name in names]
        results = await asyncio.gather(
            *(self._client.get(path) for path in paths), return_exceptions=True
        )
        return snapshot_of(stat, dict(zip(names, results, strict=True)))
