"""`Config` for the asyncio client: the threaded Config's view and rules
(recipes/config.py `ConfigView`: one transaction per update, a view shown only
when it is one state of the tree), read with coroutines.

Create it with `config = await client.Config(path, codec)`: the view is
loaded, and the persistent recursive watch set, when the await returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from coord_client.events import WatchedEvent
from coord_client.paths import join
from coord_client.recipes.config import Codec, ConfigView, OnChange, Snapshot, snapshot_of

from .base import create_once
from .subtree import GONE, Following

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class Config(Following, ConfigView):
    """Name -> bytes (or `codec.loads(bytes)`) for the children of `path`;
    `on_change` callbacks may be coroutine functions."""

    def __init__(self, client: Client, path: str, codec: Codec | None = None) -> None:
        self._client = client
        self._init_view(path, codec)
        self._follow(client, self.path)
        self._started: asyncio.Task[Config] | None = None

    def __await__(self) -> Generator[Any, None, Config]:
        """Load the view and start following the tree (once)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        return self._started.__await__()

    async def _start(self) -> Config:
        await create_once(self._client, self.path, b"0", makepath=True)
        async with self._lock:
            await self._start_following()
            await self._refresh(None)
        return self

    async def close(self) -> None:
        """Stop following the tree; the view keeps its last state."""
        async with self._lock:
            await self._stop_following()

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
        self._call(callback, values)

    async def _on_event(self, event: WatchedEvent) -> None:
        async with self._lock:
            if self._wanted(event):
                with contextlib.suppress(*GONE):
                    await self._refresh(event.zxid)

    async def _reload(self) -> None:
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
