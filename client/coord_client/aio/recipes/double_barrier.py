"""`DoubleBarrier` for the asyncio client: the threaded recipe's names and
rules (recipes/double_barrier.py `DoubleBarrierState`), waiting with
coroutines: `await barrier.enter()`, `await barrier.leave()`."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from coord_client.exceptions import NoNodeError
from coord_client.ops import Watcher
from coord_client.paths import join
from coord_client.recipes.double_barrier import DoubleBarrierState, ReadyWatch
from coord_client.recipes.nodes import transaction_error

from .base import Deadline, children, create_once, retrying, wait_for
from .base import wakeup as new_wakeup

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class DoubleBarrier(DoubleBarrierState):
    """`await enter()` until `num_clients` members are in; `await leave()` until all are out."""

    client: Client

    async def enter(self, timeout: float | None = None) -> bool:
        """True once all members are in; False (and out again) when `timeout`
        seconds pass first."""
        deadline = Deadline(timeout)
        data = self.identifier.encode()
        await create_once(self.client, self.create_path, data, ephemeral=True, makepath=True)
        self.participating = True
        with new_wakeup(self.client) as wakeup:
            ready = ReadyWatch(wakeup)
            while True:
                wakeup.event.clear()
                if ready.seen or await self._exists(self.ready_path, ready):
                    return True
                if len(await self._members()) >= self.num_clients:
                    await create_once(self.client, self.ready_path)  # or another member did
                    return True
                if not await wait_for(wakeup.event, deadline.remaining()):
                    await self._delete_own()
                    return False

    async def leave(self, timeout: float | None = None) -> bool:
        """True once every member has left; False when `timeout` seconds pass first."""
        deadline = Deadline(timeout)
        with new_wakeup(self.client) as wakeup:
            while True:
                wakeup.event.clear()
                step = self._leave_step(await self._members())
                if step.last:
                    await self._leave_last()
                if step.done:
                    break
                if step.delete_own:
                    await self._delete_own()
                if not await self._exists(join(self.path, step.awaited), wakeup):
                    continue
                if not await wait_for(wakeup.event, deadline.remaining()):
                    return False
        self.participating = False
        return True

    async def _members(self) -> list[str]:
        return self._members_of(await children(self.client, self.path))

    async def _exists(self, path: str, watch: Watcher) -> bool:
        return await retrying(self.client, lambda: self.client.exists(path, watch)) is not None

    async def _delete_own(self) -> None:
        with contextlib.suppress(NoNodeError):
            await retrying(self.client, lambda: self.client.delete(self.create_path))
        self.participating = False

    async def _leave_last(self) -> None:
        """`ready` and our node in one transaction (ours alone when `ready` is gone)."""
        commit = lambda: self._last_out(self.client.transaction()).commit()  # noqa: E731
        if transaction_error(await retrying(self.client, commit)):
            await self._delete_own()
