"""`LockingQueue`: a queue whose items survive a consumer that dies holding
one (kazoo's LockingQueue).

Items live in `<path>/entries`; a consumer locks one by creating an ephemeral
node of the same name in `<path>/taken` holding its uuid, works on it, and
then `consume()`s it: one transaction deletes the item and the lock. If the
consumer's session ends first, the lock goes with it and the item is offered
again. A write from a session that has ended is refused, so the transaction
of a consumer whose lock is gone never applies. Waiting consumers watch both
child lists, as kazoo's do: a new item wakes them all, and one of them gets it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from coord_api.paths import join, validate_path
from coord_client.exceptions import NoNodeError
from coord_client.recipes.queue import Items, entry_path
from coord_client.recipes.session import Wakeup
from coord_client.recipes.steps import (
    Steps,
    Wait,
    call,
    commit,
    create_once,
    once,
    operation,
)
from coord_client.recipes.waiting import Deadline


class LockingQueue(Items):
    """`put`, `put_all`, `get(timeout)`, then `consume()` or `release()` the
    item; `length()` (`len()` too, threaded)."""

    def __init__(self, client: Any, path: str) -> None:
        self.client = client
        self.path = validate_path(path)
        self.id = uuid.uuid4().hex.encode()
        self.processing_element: tuple[str, bytes] | None = None  # (name, value)
        self._lock_path = join(self.path, "taken")
        self._items_path = join(self.path, "entries")
        self._ensured = False

    @operation
    def put(self, value: bytes, priority: int = 100) -> Steps[None]:
        """Add an item (0 is the first priority, 999 the last)."""
        yield from self.put_all.steps([value], priority)

    @operation
    def put_all(self, values: Iterable[bytes], priority: int = 100) -> Steps[None]:
        """Add several items in one transaction: all of them or none."""
        values = list(values)
        if not all(isinstance(value, bytes) for value in values):
            raise TypeError("values must be bytes")
        where = entry_path(self._items_path, priority)
        yield from self._ensure()

        def puts(transaction: Any) -> None:
            for value in values:
                transaction.create(where, value, sequence=True)

        yield from commit(puts)

    @operation
    def get(self, timeout: float | None = None) -> Steps[bytes | None]:
        """Lock the next free item and return its value; None when none came
        within `timeout` seconds. The item held is returned again until it is
        consumed or released."""
        yield from self._ensure()
        if self.processing_element is not None:
            return self.processing_element[1]
        deadline = Deadline(timeout)
        with Wakeup(self.client, self.driver.event()) as wakeup:
            while True:
                wakeup.event.clear()
                entries = yield call("get_children", self._items_path, watch=wakeup)
                taken = yield call("get_children", self._lock_path, watch=wakeup)
                for name in sorted(set(entries) - set(taken)):
                    value = yield from self._take(name)
                    if value is not None:
                        self.processing_element = (name, value)
                        return value
                if not (yield Wait(wakeup.event, deadline.remaining())):
                    return None

    @operation
    def holds_lock(self) -> Steps[bool]:
        """Whether the item we took is still locked by us, as the leader has it."""
        if self.processing_element is None:
            return False
        lock = join(self._lock_path, self.processing_element[0])
        try:
            yield call("sync", lock)
            data, _ = yield call("get", lock)
        except NoNodeError:
            return False
        return data == self.id

    @operation
    def consume(self) -> Steps[bool]:
        """Remove the item we hold, for good; False when we hold none (any more)."""
        name = yield from self._held_item()
        if name is None:
            return False

        def consumes(transaction: Any) -> None:
            transaction.delete(join(self._items_path, name))
            transaction.delete(join(self._lock_path, name))

        yield from commit(consumes)
        self.processing_element = None
        return True

    @operation
    def release(self) -> Steps[bool]:
        """Give the item we hold back to the queue; False when we hold none."""
        name = yield from self._held_item()
        if name is None:
            return False
        yield once("delete", join(self._lock_path, name))
        self.processing_element = None
        return True

    def _held_item(self) -> Steps[str | None]:
        """The name of the item we hold; None, forgetting it, once its lock is gone."""
        if not (yield from self.holds_lock.steps()):
            self.processing_element = None
            return None
        assert self.processing_element is not None
        return self.processing_element[0]

    def _take(self, name: str) -> Steps[bytes | None]:
        """Lock item `name` and read it; None when another consumer was first."""
        lock = join(self._lock_path, name)
        if not (yield from create_once(lock, self.id, ephemeral=True)):
            try:  # ours when a create repeated after a connection loss made it
                mine = (yield call("get", lock))[0] == self.id
            except NoNodeError:
                mine = False
            if not mine:
                return None
        try:
            return (yield call("get", join(self._items_path, name)))[0]
        except NoNodeError:  # consumed between our listing and our lock
            yield once("delete", lock)
            return None

    def _ensure(self) -> Steps[None]:
        if not self._ensured:
            for path in (self._lock_path, self._items_path):
                yield from create_once(path, makepath=True)
            self._ensured = True
