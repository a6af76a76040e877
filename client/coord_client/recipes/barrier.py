"""`Barrier`: waiters block while the barrier node exists (ZooKeeper's recipe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_client.events import EventType, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.paths import validate_path
from coord_client.recipes.session import Wakeup
from coord_client.recipes.waiting import Deadline, retrying

if TYPE_CHECKING:
    from coord_client.client import Client


class Barrier:
    """`create()` raises the barrier, `remove()` lowers it, `wait()` blocks until
    it is down."""

    def __init__(self, client: Client, path: str) -> None:
        self.client = client
        self.path = validate_path(path)

    def create(self) -> bool:
        """Raise the barrier (idempotent)."""
        retrying(self.client, lambda: self.client.ensure_path(self.path))
        return True

    def remove(self) -> bool:
        """Lower the barrier; False when it was not up."""
        try:
            retrying(self.client, lambda: self.client.delete(self.path))
        except NoNodeError:
            return False
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """True once the barrier is down; False when `timeout` seconds pass first.
        A watch that fires for another change is armed again; the loss of the
        session ends the wait with the session's error."""
        deadline = Deadline(timeout)
        with Wakeup(self.client) as wakeup:
            down = False

            def watch(event: WatchedEvent) -> None:
                nonlocal down
                down = down or event.type is EventType.DELETED
                wakeup(event)

            while True:
                wakeup.event.clear()
                if (
                    down
                    or retrying(self.client, lambda: self.client.exists(self.path, watch)) is None
                ):
                    return True
                if not wakeup.event.wait(deadline.remaining()):
                    return False
