"""`Counter`, `Barrier`, `Queue` and `Party` for the asyncio client: the
threaded recipes' algorithms (recipes/counter.py, barrier.py, queue.py,
party.py) as coroutines. What cannot be a coroutine in Python (`+=`,
`len()`, iteration) is a method: `await counter.add(1)`, `await
queue.length()`, `await party.members()`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from coord_client.events import EventType, WatchedEvent
from coord_client.exceptions import BadVersionError, NoNodeError
from coord_client.paths import join, validate_path
from coord_client.recipes.counter import CounterState, Number
from coord_client.recipes.queue import entry_path
from coord_client.recipes.session import Holding

from .base import Deadline, children, create_once, data_of, delete_owned, retrying, wait_for
from .base import wakeup as new_wakeup

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class Counter(CounterState):
    """A shared number changed by compare-and-set on the znode version (kazoo's
    Counter): `await counter.add(1)`, `await counter.value()`."""

    client: Client

    async def value(self) -> Number:
        """The value now."""
        return (await self._read())[0]

    async def add(self, value: Number) -> Counter:
        """Add `value` (kazoo's `counter += value`); retried on a concurrent change."""
        self._checked(value)
        while True:
            pre_value, version = await self._read()
            post = pre_value + value
            try:
                await self.client.set(self.path, repr(post).encode("ascii"), version=version)
            except BadVersionError:
                continue  # another writer got in first
            self.pre_value, self.post_value = pre_value, post
            return self

    async def subtract(self, value: Number) -> Counter:
        return await self.add(-value)

    async def _read(self) -> tuple[Number, int]:
        if not self._ensured:
            await create_once(self.client, self.path, makepath=True)
            self._ensured = True
        data, stat = await retrying(self.client, lambda: self.client.get(self.path))
        return self._decoded(data), stat.version


class Barrier:
    """`create()` raises the barrier, `remove()` lowers it, `wait()` until it is down."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = validate_path(path)

    async def create(self) -> bool:
        """Raise the barrier (idempotent)."""
        await retrying(self.client, lambda: self.client.ensure_path(self.path))
        return True

    async def remove(self) -> bool:
        """Lower the barrier; False when it was not up."""
        try:
            await retrying(self.client, lambda: self.client.delete(self.path))
        except NoNodeError:
            return False
        return True

    async def wait(self, timeout: float | None = None) -> bool:
        """True once the barrier is down; False when `timeout` seconds pass first."""
        deadline = Deadline(timeout)
        down = False
        with new_wakeup(self.client) as wakeup:

            def watch(event: WatchedEvent) -> None:
                nonlocal down
                down = down or event.type is EventType.DELETED
                wakeup(event)

            while not down:
                wakeup.event.clear()
                stat = await retrying(self.client, lambda: self.client.exists(self.path, watch))
                if stat is None:
                    break
                if not await wait_for(wakeup.event, deadline.remaining()):
                    return False
        return True


class Queue:
    """A FIFO queue with priorities: `await put(value, priority=100)`, `await
    get()` (None when empty, never waits), `await length()`."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = validate_path(path)
        self._ensured = False
        self._next: list[str] = []  # names seen and not yet tried, in order

    async def length(self) -> int:
        await self._ensure()
        return len(await children(self.client, self.path))

    async def put(self, value: bytes, priority: int = 100) -> None:
        """Add an item (not repeated after a connection loss: it may be in)."""
        if not isinstance(value, bytes):
            raise TypeError("value must be bytes")
        await self._ensure()
        await self.client.create(entry_path(self.path, priority), value, sequence=True)

    async def get(self) -> bytes | None:
        """Take the next item, or None when the queue is empty; the consumer
        whose delete succeeds has it."""
        await self._ensure()
        while True:
            if not self._next:
                self._next = sorted(await children(self.client, self.path))
                if not self._next:
                    return None
            node = join(self.path, self._next.pop(0))
            try:
                data, _ = await retrying(self.client, lambda n=node: self.client.get(n))
                await self.client.delete(node)
            except NoNodeError:
                continue  # another consumer took it
            return data

    async def _ensure(self) -> None:
        if not self._ensured:
            await create_once(self.client, self.path, makepath=True)
            self._ensured = True


class Party:
    """Group membership, one ephemeral node per member: `await join()`,
    `await leave()`, `await members()` (their identifiers)."""

    _NODE_NAME = "__party__"

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        self.client = client
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.create_path = join(self.path, uuid.uuid4().hex + self._NODE_NAME)
        self._holding = Holding(client)

    @property
    def participating(self) -> bool:
        """Joined, and the session that joined has not ended."""
        return self._holding.held

    async def join(self) -> None:
        """Become a member (idempotent)."""
        self._holding.listen()
        await create_once(self.client, self.create_path, self.data, ephemeral=True, makepath=True)
        self._holding.claim()

    async def leave(self) -> bool:
        """Stop being a member; False when we were not one."""
        was = self._holding.held
        if was:
            await delete_owned(self.client, self._holding, self.create_path, 0)
        self._holding.drop()
        return was

    async def members(self) -> list[str]:
        names = await children(self.client, self.path)
        paths = [join(self.path, name) for name in names if name.endswith(self._NODE_NAME)]
        return [data.decode() for data in await data_of(self.client, paths)]
