"""`Lock`, `ReadLock`, `WriteLock`, `Semaphore`, `Election` as coroutines.

The threaded recipes' algorithm (recipes/lock.py, recipes/semaphore.py): an
ephemeral sequential node per contender, named by a per-object uuid so a
create repeated after a connection loss finds its own node; a waiter watches
only its predecessor; release deletes only our node, checking its version.
What a lock knows of its node (`LockState`: fencing token, predecessor) is
the threaded lock's own code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from coord_client.exceptions import ConnectionLoss, LockTimeout, NoNodeError, SessionExpiredError
from coord_client.paths import join
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import LockState, Reading, contender_order
from coord_client.recipes.semaphore import SemaphoreState
from coord_client.stat import ZnodeStat

from .base import (
    Deadline,
    Holder,
    children,
    create_once,
    data_of,
    delete_owned,
    retrying,
    wait_for,
    wakeup,
)

if TYPE_CHECKING:
    from coord_client.aio.client import Client


class Lock(LockState, Holder):
    """An exclusive lock: `async with client.Lock(path):` or `await acquire()`.
    `fencing_token` strictly grows from one holder to the next."""

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        super().__init__(client)
        self.client = client
        self._init_node(path, identifier)
        self._wakeup = wakeup(client)
        self._local = asyncio.Lock()  # one acquisition of this object at a time

    async def acquire(
        self, blocking: bool = True, timeout: float | None = None, ephemeral: bool = True
    ) -> bool:
        """True once the lock is ours. Non-blocking: False at once when it is
        not free. Raises LockTimeout when `timeout` seconds pass first, and
        CancelledError after `cancel()`; no contender node is left behind."""
        deadline = Deadline(timeout)
        if not blocking and self._local.locked():
            return False
        try:
            await asyncio.wait_for(self._local.acquire(), deadline.remaining())
        except TimeoutError:
            raise LockTimeout(f"failed to acquire lock on {self.path} after {timeout}s") from None
        try:
            gotten = await self._acquire(blocking, deadline, ephemeral)
        except BaseException:
            await asyncio.shield(self._let_go())
            raise
        if not gotten:
            await self._let_go()
        return gotten

    def cancel(self) -> None:
        """Make a pending `acquire` give up (with CancelledError)."""
        self.cancelled = True
        self._wakeup.event.set()

    async def _acquire(self, blocking: bool, deadline: Deadline, ephemeral: bool) -> bool:
        self._holding.ephemeral = ephemeral
        self._holding.listen()
        with self._wakeup:
            await self._make_node(ephemeral)
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                names = contender_order(await children(self.client, self.path))
                if self.node not in names:
                    await self._make_node(ephemeral)  # removed under us (not by its session)
                    continue
                predecessor = self._predecessor(names)
                if predecessor is None:
                    self._acquired = True
                    return True
                if not blocking:
                    return False
                watched = join(self.path, predecessor)
                try:  # get, not exists: no watch is left on a node already gone
                    await retrying(self.client, lambda p=watched: self.client.get(p, self._wakeup))
                except NoNodeError:
                    continue
                if not await wait_for(self._wakeup.event, deadline.remaining()):
                    raise LockTimeout(
                        f"failed to acquire lock on {self.path} after {deadline.timeout}s"
                    )

    async def _make_node(self, ephemeral: bool) -> None:
        """Create our contender node; after a connection loss, look for the one
        the lost create may have made before making another."""
        tried = False

        async def attempt() -> tuple[str, ZnodeStat]:
            nonlocal tried
            if tried and (found := await self._find_node()) is not None:
                return found
            tried = True
            args, kwargs = self._create_args(ephemeral)
            return await self.client.create(*args, **kwargs)

        self._made(*await retrying(self.client, attempt))

    async def _find_node(self) -> tuple[str, ZnodeStat] | None:
        for name in self._mine(await self.client.get_children(self.path)):
            stat = await self.client.exists(join(self.path, name))
            if stat is not None:
                return join(self.path, name), stat
        return None

    async def check(self) -> bool:
        """Ask the server whether we still hold the lock (after a suspension)."""
        node = self.node_path
        if not self._acquired or not self._holding.held or node is None:
            return False
        try:
            await retrying(self.client, lambda: self.client.sync(self.path))
            stat = await retrying(self.client, lambda: self.client.exists(node))
        except (SessionExpiredError, ConnectionLoss):
            stat = None  # the session is gone, and the node with it
        return self._still_mine(stat) and self.is_acquired

    async def _let_go(self) -> None:
        self.cancelled = False
        try:
            node, stat = self._take_node()
            if node is not None and stat is not None:
                await delete_owned(self.client, self._holding, node, stat.version)
        finally:
            self._holding.drop()
            self._local.release()

    async def contenders(self) -> list[str]:
        """The identifiers of the contenders, holders first, in order."""
        names = contender_order(await children(self.client, self.path))
        return [data.decode() for data in await data_of(self.client, self._paths(names))]

    def _paths(self, names: list[str]) -> list[str]:
        return [join(self.path, name) for name in names]


class WriteLock(Lock):
    """The exclusive side of a read/write lock: waits for every earlier contender."""


class ReadLock(Reading, Lock):
    """The shared side of a read/write lock: waits only for earlier writers."""


class Election:
    """Contend for leadership of `path`: `await election.run(fn)` awaits `fn`
    (a coroutine function, or a plain one) as the leader."""

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        self.lock = Lock(client, path, identifier)

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Wait to be elected, then run `func` as the leader; returns when it
        does (or at once after `cancel()`)."""
        if not callable(func):
            raise ValueError("leader function is not callable")
        try:
            async with self.lock:
                result = func(*args, **kwargs)
                if isinstance(result, Awaitable):
                    await result
        except CancelledError:
            pass

    def cancel(self) -> None:
        """Stop waiting to be elected."""
        self.lock.cancel()

    async def contenders(self) -> list[str]:
        """The contenders' identifiers, the leader first."""
        return await self.lock.contenders()

    @property
    def is_leader(self) -> bool:
        """Elected, with the session confirmed."""
        return self.lock.is_acquired


class Semaphore(SemaphoreState, Holder):
    """At most `max_leases` holders at once (the threaded Semaphore's algorithm:
    acquirers queue on a Lock at `<path>-__lock__`; its holder takes a lease)."""

    _mutex_type = Lock
    _event_type = asyncio.Event

    async def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """True once a lease is ours; False (non-blocking) when none is free;
        LockTimeout when `timeout` passes first."""
        deadline = Deadline(timeout)
        if not self._checked:
            if not await create_once(
                self.client, self.path, str(self.max_leases).encode(), makepath=True
            ):
                self._agree((await retrying(self.client, lambda: self.client.get(self.path)))[0])
            self._checked = True
        self._holding.listen()
        try:
            gotten = await self._under_mutex(blocking, deadline)
        except BaseException:
            await asyncio.shield(self._let_go())
            raise
        return self._settle(gotten)

    async def _under_mutex(self, blocking: bool, deadline: Deadline) -> bool:
        """Take the mutex, then a lease; False when either is not to be had now."""
        if not await self._mutex.acquire(blocking, deadline.remaining()):
            return False
        try:
            return await self._take_lease(blocking, deadline)
        finally:
            await self._mutex.release()

    async def _let_go(self) -> None:
        self.cancelled = False
        try:
            await delete_owned(self.client, self._holding, self.lease_path, 0)
        finally:
            self._holding.drop()

    async def lease_holders(self) -> list[str]:
        """The identifiers of the lease holders."""
        leases = [join(self.path, name) for name in await children(self.client, self.path)]
        return [data.decode() for data in await data_of(self.client, leases)]

    async def _take_lease(self, blocking: bool, deadline: Deadline) -> bool:
        with self._wakeup:
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                leases = await retrying(
                    self.client, lambda: self.client.get_children(self.path, watch=self._wakeup)
                )
                mine, free = self._lease_free(leases)
                if free:
                    if not mine:
                        await create_once(self.client, self.lease_path, self.data, ephemeral=True)
                    self._holding.claim()
                    return True
                if not blocking:
                    return False
                if not await wait_for(self._wakeup.event, deadline.remaining()):
                    raise LockTimeout(
                        f"failed to acquire semaphore on {self.path} after {deadline.timeout}s"
                    )
