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
from typing import TYPE_CHECKING, Any

from coord_client.exceptions import NoNodeError
from coord_client.paths import join, validate_path
from coord_client.recipes.nodes import children, create_once, transaction_error
from coord_client.recipes.queue import entry_path
from coord_client.recipes.session import Wakeup
from coord_client.recipes.waiting import Deadline, retrying

if TYPE_CHECKING:
    from coord_client.client import Client


class LockingQueueState:
    """The queue's names and rules, whichever way it waits (shared with the
    asyncio LockingQueue)."""

    def __init__(self, client: Any, path: str) -> None:
        self.client = client
        self.path = validate_path(path)
        self.id = uuid.uuid4().hex.encode()
        self.processing_element: tuple[str, bytes] | None = None  # (name, value)
        self._lock_path = join(self.path, "taken")
        self._entries_path = join(self.path, "entries")
        self._ensured = False

    def _puts(self, transaction: Any, values: Iterable[bytes], priority: int) -> Any:
        """`transaction` with one create per value."""
        values = list(values)
        if not all(isinstance(value, bytes) for value in values):
            raise TypeError("values must be bytes")
        for value in values:
            transaction.create(entry_path(self._entries_path, priority), value, sequence=True)
        return transaction

    @staticmethod
    def _free(entries: list[str], taken: list[str]) -> list[str]:
        """The items nobody holds, in order."""
        return sorted(set(entries) - set(taken))

    def _consumes(self, transaction: Any, name: str) -> Any:
        """`transaction` deleting item `name` and our lock on it together."""
        transaction.delete(join(self._entries_path, name))
        transaction.delete(join(self._lock_path, name))
        return transaction


class LockingQueue(LockingQueueState):
    """`put`, `put_all`, `get(timeout)`, then `consume()` or `release()` the item."""

    client: Client

    def __len__(self) -> int:
        self._ensure()
        return len(children(self.client, self._entries_path))

    def put(self, value: bytes, priority: int = 100) -> None:
        """Add an item (0 is the first priority, 999 the last)."""
        self.put_all([value], priority)

    def put_all(self, values: Iterable[bytes], priority: int = 100) -> None:
        """Add several items in one transaction: all of them or none."""
        transaction = self._puts(self.client.transaction(), values, priority)
        self._ensure()
        if (error := transaction_error(transaction.commit())) is not None:
            raise error

    def get(self, timeout: float | None = None) -> bytes | None:
        """Lock the next free item and return its value; None when none came
        within `timeout` seconds. The item held is returned again until it is
        consumed or released."""
        self._ensure()
        if self.processing_element is not None:
            return self.processing_element[1]
        deadline = Deadline(timeout)
        with Wakeup(self.client) as wakeup:
            while True:
                wakeup.event.clear()
                entries = retrying(
                    self.client, lambda: self.client.get_children(self._entries_path, wakeup)
                )
                taken = retrying(
                    self.client, lambda: self.client.get_children(self._lock_path, wakeup)
                )
                for name in self._free(entries, taken):
                    value = self._take(name)
                    if value is not None:
                        self.processing_element = (name, value)
                        return value
                if not wakeup.event.wait(deadline.remaining()):
                    return None

    def holds_lock(self) -> bool:
        """Whether the item we took is still locked by us, as the leader has it."""
        if self.processing_element is None:
            return False
        lock = join(self._lock_path, self.processing_element[0])
        try:
            retrying(self.client, lambda: self.client.sync(lock))
            data, _ = retrying(self.client, lambda: self.client.get(lock))
        except NoNodeError:
            return False
        return data == self.id

    def consume(self) -> bool:
        """Remove the item we hold, for good; False when we hold none (any more)."""
        name = self._held_item()
        if name is None:
            return False
        transaction = self._consumes(self.client.transaction(), name)
        if (error := transaction_error(transaction.commit())) is not None:
            raise error
        self.processing_element = None
        return True

    def release(self) -> bool:
        """Give the item we hold back to the queue; False when we hold none."""
        name = self._held_item()
        if name is None:
            return False
        self.client.delete(join(self._lock_path, name))
        self.processing_element = None
        return True

    def _held_item(self) -> str | None:
        """The name of the item we hold; None, forgetting it, once its lock is gone."""
        if not self.holds_lock():
            self.processing_element = None
            return None
        assert self.processing_element is not None
        return self.processing_element[0]

    def _take(self, name: str) -> bytes | None:
        """Lock item `name` and read it; None when another consumer was first."""
        lock = join(self._lock_path, name)
        if not create_once(self.client, lock, self.id, ephemeral=True):
            try:  # ours when a create repeated after a connection loss made it
                mine = retrying(self.client, lambda: self.client.get(lock))[0] == self.id
            except NoNodeError:
                mine = False
            if not mine:
                return None
        try:
            return retrying(self.client, lambda: self.client.get(join(self._entries_path, name)))[0]
        except NoNodeError:  # consumed between our listing and our lock
            self.client.delete(lock)
            return None

    def _ensure(self) -> None:
        if not self._ensured:
            for path in (self._lock_path, self._entries_path):
                create_once(self.client, path, makepath=True)
            self._ensured = True
