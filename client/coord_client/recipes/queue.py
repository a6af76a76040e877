"""`Queue`: a distributed FIFO queue with priorities (kazoo's Queue).

Items are persistent sequential nodes `<path>/entry-<priority>-<seq>`; the
lowest name (priority first, then the order items were committed, across all
producers) is next. A consumer claims an item by deleting it: the one whose
delete succeeds has it. An item claimed by a consumer that dies before using
it is lost; `LockingQueue` keeps it instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from coord_api.paths import join, validate_path
from coord_client.exceptions import NoNodeError
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.steps import Steps, call, children, create_once, once, operation

ENTRY = "entry-"


def entry_path(path: str, priority: int) -> str:
    """Where a new item of `priority` (0 first, 999 last) goes under `path`."""
    if not isinstance(priority, int) or not 0 <= priority <= 999:
        raise ValueError("priority must be an int from 0 to 999")
    return join(path, f"{ENTRY}{priority:03d}-")


class Items(Recipe, ABC):
    """What both queues share: the count of the items under `_items_path`."""

    _items_path: str

    def __len__(self) -> int:
        self.threaded_only("`await queue.length()`")
        return self.length()

    @operation
    def length(self) -> Steps[int]:
        """How many items are queued (in a LockingQueue, held ones too)."""
        yield from self._ensure()
        return len((yield from children(self._items_path)))

    @abstractmethod
    def _ensure(self) -> Steps[None]:
        """Create the queue's nodes on first use."""


class Queue(Items):
    """`put(value, priority=100)`, `get()` (None when empty, never blocks),
    `length()` (`len()` too, threaded)."""

    def __init__(self, client: Any, path: str) -> None:
        self.client = client
        self.path = validate_path(path)
        self._ensured = False
        self._next: list[str] = []  # names seen and not yet tried, in order
        self._items_path = self.path

    @operation
    def put(self, value: bytes, priority: int = 100) -> Steps[None]:
        """Add an item. Not repeated after a connection loss: it may have been added."""
        if not isinstance(value, bytes):
            raise TypeError("value must be bytes")
        yield from self._ensure()
        yield once("create", entry_path(self.path, priority), value, sequence=True)

    @operation
    def get(self) -> Steps[bytes | None]:
        """Take the next item, or None when the queue is empty."""
        yield from self._ensure()
        while True:
            if not self._next:
                self._next = sorted((yield from children(self.path)))
                if not self._next:
                    return None
            node = join(self.path, self._next.pop(0))
            try:
                data, _ = yield call("get", node)
                yield once("delete", node)  # the claim: one consumer's delete succeeds
            except NoNodeError:
                continue  # another consumer took it
            return data

    def _ensure(self) -> Steps[None]:
        if not self._ensured:
            yield from create_once(self.path, makepath=True)
            self._ensured = True
