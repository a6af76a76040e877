"""`Barrier`: waiters block while the barrier node exists (ZooKeeper's recipe)."""

from __future__ import annotations

from typing import Any

from coord_api.paths import validate_path
from coord_client.events import EventType, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.session import Wakeup
from coord_client.recipes.steps import Steps, Wait, call, operation
from coord_client.recipes.waiting import Deadline


class Barrier(Recipe):
    """`create()` raises the barrier, `remove()` lowers it, `wait()` blocks until
    it is down."""

    def __init__(self, client: Any, path: str) -> None:
        self.client = client
        self.path = validate_path(path)

    @operation
    def create(self) -> Steps[bool]:
        """Raise the barrier (idempotent)."""
        yield call("ensure_path", self.path)
        return True

    @operation
    def remove(self) -> Steps[bool]:
        """Lower the barrier; False when it was not up."""
        try:
            yield call("delete", self.path)
        except NoNodeError:
            return False
        return True

    @operation
    def wait(self, timeout: float | None = None) -> Steps[bool]:
        """True once the barrier is down; False when `timeout` seconds pass first.
        A watch that fires for another change is armed again; the loss of the
        session ends the wait with the session's error."""
        deadline = Deadline(timeout)
        with Wakeup(self.client, self.driver.event()) as wakeup:
            down = False

            def watch(event: WatchedEvent) -> None:
                nonlocal down
                down = down or event.type is EventType.DELETED
                wakeup(event)

            while True:
                wakeup.event.clear()
                if down or (yield call("exists", self.path, watch=watch)) is None:
                    return True
                if not (yield Wait(wakeup.event, deadline.remaining())):
                    return False
