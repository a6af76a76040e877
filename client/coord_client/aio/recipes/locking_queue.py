"""`LockingQueue` for the asyncio client: the threaded recipe's names and
rules (recipes/locking_queue.py `LockingQueueState`) as coroutines. An item
is locked by an ephemeral node under `taken`, so the item of a consumer whose
session ends is offered again; `consume()` deletes item and lock in one
transaction, which a session that has ended cannot apply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from coord_client.exceptions import NoNodeError
from coord_client.paths import join
from coord_client.recipes.locking_queue import LockingQueueState
from coord_client.recipes.nodes import transaction_error

from .base import Deadline, children, create_once, retrying, wait_for
from .base import wakeup as new_wakeup

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class LockingQueue(LockingQueueState):
    """`await put(value)`, `await get(timeout)`, then `await consume()` or
    `await release()` the item; `await length()`."""

    client: Client

    async def length(self) -> int:
        await self._ensure()
        return len(await children(self.client, self._entries_path))

    async def put(self, value: bytes, priority: int = 100) -> None:
        """Add an item (0 is the first priority, 999 the last)."""
        await self.put_all([value], priority)

    async def put_all(self, values: Iterable[bytes], priority: int = 100) -> None:
        """Add several items in one transaction: all of them or none."""
        transaction = self._puts(self.client.transaction(), values, priority)
        await self._ensure()
        if (error := transaction_error(await transaction.commit())) is not None:
            raise error

    async def get(self, timeout: float | None = None) -> bytes | None:
        """Lock the next free item and return its value; None when none came
        within `timeout` seconds. The item held is returned again until it is
        consumed or released."""
        await self._ensure()
        if self.processing_element is not None:
            return self.processing_element[1]
        deadline = Deadline(timeout)
        client = self.client
        with new_wakeup(client) as wakeup:
            while True:
                wakeup.event.clear()
                entries = await retrying(
                    client, lambda: client.get_children(self._entries_path, wakeup)
                )
                taken = await retrying(client, lambda: client.get_children(self._lock_path, wakeup))
                for name in self._free(entries, taken):
                    if (value := await self._take(name)) is not None:
                        self.processing_element = (name, value)
                        return value
                if not await wait_for(wakeup.event, deadline.remaining()):
                    return None

    async def holds_lock(self) -> bool:
        """Whether the item we took is still locked by us, as the leader has it."""
        if self.processing_element is None:
            return False
        lock = join(self._lock_path, self.processing_element[0])
        try:
            await retrying(self.client, lambda: self.client.sync(lock))
            data, _ = await retrying(self.client, lambda: self.client.get(lock))
        except NoNodeError:
            return False
        return data == self.id

    async def consume(self) -> bool:
        """Remove the item we hold, for good; False when we hold none (any more)."""
        if (name := await self._held_item()) is None:
            return False
        transaction = self._consumes(self.client.transaction(), name)
        if (error := transaction_error(await transaction.commit())) is not None:
            raise error
        self.processing_element = None
        return True

    async def release(self) -> bool:
        """Give the item we hold back to the queue; False when we hold none."""
        if (name := await self._held_item()) is None:
            return False
        await self.client.delete(join(self._lock_path, name))
        self.processing_element = None
        return True

    async def _held_item(self) -> str | None:
        """The name of the item we hold; None, forgetting it, once its lock is gone."""
        if not await self.holds_lock():
            self.processing_element = None
            return None
        assert self.processing_element is not None
        return self.processing_element[0]

    async def _take(self, name: str) -> bytes | None:
        """Lock item `name` and read it; None when another consumer was first."""
        client, lock = self.client, join(self._lock_path, name)
        if not await create_once(client, lock, self.id, ephemeral=True):
            try:  # ours when a create repeated after a connection loss made it
                mine = (await retrying(client, lambda: client.get(lock)))[0] == self.id
            except NoNodeError:
                mine = False
            if not mine:
                return None
        try:
            entry = join(self._entries_path, name)
            return (await retrying(client, lambda: client.get(entry)))[0]
        except NoNodeError:  # consumed between our listing and our lock
            await client.delete(lock)
            return None

    async def _ensure(self) -> None:
        if not self._ensured:
            for path in (self._lock_path, self._entries_path):
                await create_once(self.client, path, makepath=True)
            self._ensured = True
