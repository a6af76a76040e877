"""`DoubleBarrier`: `num_clients` processes enter together and leave together
(ZooKeeper's recipe).

Enter: make an ephemeral member node, then wait for the `ready` node, which
the member that sees `num_clients` members creates. Leave: the lowest member
waits for the highest to go; every other member deletes its node and waits
for the lowest, which leaves last and takes `ready` with it, so the path can
serve the next round.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from typing import Any, NamedTuple

from coord_api.paths import join, validate_path
from coord_client.events import EventType, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.ops import Watcher
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.session import Wakeup
from coord_client.recipes.steps import (
    Commit,
    Steps,
    Wait,
    call,
    children,
    create_once,
    operation,
    transaction_error,
)
from coord_client.recipes.waiting import Deadline

READY = "ready"


class LeaveStep(NamedTuple):
    """What a leaving member does next: stop (`done`, after leaving last when
    `last`), or delete its own node when `delete_own` and wait for `awaited` to go."""

    done: bool
    last: bool = False
    delete_own: bool = False
    awaited: str = ""


class ReadyWatch:
    """The watch on `ready`: remembers that it was created (it may be gone
    again by the time we look) and wakes the waiter."""

    def __init__(self, wakeup: Wakeup) -> None:
        self.seen = False
        self._wakeup = wakeup

    def __call__(self, event: WatchedEvent) -> None:
        self.seen = self.seen or event.type is EventType.CREATED
        self._wakeup(event)


class DoubleBarrier(Recipe):
    """`enter()` blocks until `num_clients` members are in; `leave()` until all are out."""

    def __init__(
        self, client: Any, path: str, num_clients: int, identifier: str | None = None
    ) -> None:
        self.client = client
        self.path = validate_path(path)
        self.num_clients = num_clients
        self.identifier = identifier or f"{socket.getfqdn()}-{os.getpid()}"
        self.node_name = uuid.uuid4().hex
        self.create_path = join(self.path, self.node_name)
        self.ready_path = join(self.path, READY)
        self.participating = False

    @operation
    def enter(self, timeout: float | None = None) -> Steps[bool]:
        """True once all members are in; False (and out again) when `timeout`
        seconds pass first."""
        deadline = Deadline(timeout)
        data = self.identifier.encode()
        yield from create_once(self.create_path, data, ephemeral=True, makepath=True)
        self.participating = True
        with Wakeup(self.client, self.driver.event()) as wakeup:
            ready = ReadyWatch(wakeup)
            while True:
                wakeup.event.clear()
                if ready.seen or (yield from self._exists(self.ready_path, ready)):
                    return True
                if len((yield from self._members())) >= self.num_clients:
                    yield from create_once(self.ready_path)  # or another member did
                    return True
                if not (yield Wait(wakeup.event, deadline.remaining())):
                    yield from self._delete_own()
                    return False

    @operation
    def leave(self, timeout: float | None = None) -> Steps[bool]:
        """True once every member has left; False when `timeout` seconds pass first."""
        deadline = Deadline(timeout)
        with Wakeup(self.client, self.driver.event()) as wakeup:
            while True:
                wakeup.event.clear()
                step = self._leave_step((yield from self._members()))
                if step.last:
                    yield from self._leave_last()
                if step.done:
                    break
                if step.delete_own:
                    yield from self._delete_own()
                if not (yield from self._exists(join(self.path, step.awaited), wakeup)):
                    continue
                if not (yield Wait(wakeup.event, deadline.remaining())):
                    return False
        self.participating = False
        return True

    def _leave_step(self, members: list[str]) -> LeaveStep:
        if not members:
            return LeaveStep(done=True)
        if members == [self.node_name]:
            return LeaveStep(done=True, last=True)
        if members[0] == self.node_name:
            return LeaveStep(done=False, awaited=members[-1])  # the lowest goes last
        return LeaveStep(done=False, delete_own=self.node_name in members, awaited=members[0])

    def _members(self) -> Steps[list[str]]:
        """The member nodes among the children of the path, in order."""
        return sorted(name for name in (yield from children(self.path)) if name != READY)

    def _exists(self, path: str, watch: Watcher) -> Steps[bool]:
        return (yield call("exists", path, watch=watch)) is not None

    def _delete_own(self) -> Steps[None]:
        with contextlib.suppress(NoNodeError):
            yield call("delete", self.create_path)
        self.participating = False

    def _leave_last(self) -> Steps[None]:
        """The last member out deletes `ready` and its own node in one transaction
        (its own node alone when `ready` is already gone)."""

        def last_out(transaction: Any) -> None:
            transaction.delete(self.ready_path)
            transaction.delete(self.create_path)

        if transaction_error((yield Commit(last_out, retry=True))):
            yield from self._delete_own()
