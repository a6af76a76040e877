"""`Queue`: a distributed FIFO queue with priorities (kazoo's Queue).

Items are persistent sequential nodes `<path>/entry-<priority>-<seq>`; the
lowest name (priority first, then the order items were committed, across all
producers) is next. A consumer claims an item by deleting it: the one whose
delete succeeds has it. An item claimed by a consumer that dies before using
it is lost; `LockingQueue` keeps it instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_client.exceptions import NoNodeError
from coord_client.paths import join, validate_path
from coord_client.recipes.nodes import children, create_once
from coord_client.recipes.waiting import retrying

if TYPE_CHECKING:
    from coord_client.client import Client

ENTRY = "entry-"


def entry_path(path: str, priority: int) -> str:
    """Where a new item of `priority` (0 first, 999 last) goes under `path`."""
    if not isinstance(priority, int) or not 0 <= priority <= 999:
        raise ValueError("priority must be an int from 0 to 999")
    return join(path, f"{ENTRY}{priority:03d}-")


class Queue:
    """`put(value, priority=100)`, `get()` (None when empty, never blocks), `len()`."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = validate_path(path)
        self._ensured = False
        self._next: list[str] = []  # names seen and not yet tried, in order

    def __len__(self) -> int:
        self._ensure()
        return len(children(self.client, self.path))

    def put(self, value: bytes, priority: int = 100) -> None:
        """Add an item. Not repeated after a connection loss: it may have been added."""
        if not isinstance(value, bytes):
            raise TypeError("value must be bytes")
        self._ensure()
        self.client.create(entry_path(self.path, priority), value, sequence=True)

    def get(self) -> bytes | None:
        """Take the next item, or None when the queue is empty."""
        self._ensure()
        while True:
            if not self._next:
                self._next = sorted(children(self.client, self.path))
                if not self._next:
                    return None
            node = join(self.path, self._next.pop(0))
            try:
                data, _ = retrying(self.client, lambda n=node: self.client.get(n))
                self.client.delete(node)  # the claim: one consumer's delete succeeds
            except NoNodeError:
                continue  # another consumer took it
            return data

    def _ensure(self) -> None:
        if not self._ensured:
            create_once(self.client, self.path, makepath=True)
            self._ensured = True
