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
from typing import TYPE_CHECKING

from coord_client.events import EventType, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.ops import Watcher
from coord_client.paths import join, validate_path
from coord_client.recipes.nodes import children, create_once, transaction_error
from coord_client.recipes.session import Wakeup
from coord_client.recipes.waiting import Deadline, retrying

if TYPE_CHECKING:
    from coord_client.client import Client

READY = "ready"


class DoubleBarrier:
    """`enter()` blocks until `num_clients` members are in; `leave()` until all are out."""

    def __init__(
        self, client: Client, path: str, num_clients: int, identifier: str | None = None
    ) -> None:
        self.client = client
        self.path = validate_path(path)
        self.num_clients = num_clients
        self.identifier = identifier or f"{socket.getfqdn()}-{os.getpid()}"
        self.node_name = uuid.uuid4().hex
        self.create_path = join(self.path, self.node_name)
        self.ready_path = join(self.path, READY)
        self.participating = False

    def enter(self, timeout: float | None = None) -> bool:
        """True once all members are in; False (and out again) when `timeout`
        seconds pass first."""
        deadline = Deadline(timeout)
        create_once(
            self.client, self.create_path, self.identifier.encode(), ephemeral=True, makepath=True
        )
        self.participating = True
        with Wakeup(self.client) as wakeup:
            ready = False

            def watch(event: WatchedEvent) -> None:
                nonlocal ready  # `ready` may be gone again by the time we look
                ready = ready or event.type is EventType.CREATED
                wakeup(event)

            while True:
                wakeup.event.clear()
                if ready or self._exists(self.ready_path, watch):
                    return True
                if len(self._members()) >= self.num_clients:
                    create_once(self.client, self.ready_path)  # or another member did
                    return True
                if not wakeup.event.wait(deadline.remaining()):
                    self._delete_own()
                    return False

    def leave(self, timeout: float | None = None) -> bool:
        """True once every member has left; False when `timeout` seconds pass first."""
        deadline = Deadline(timeout)
        with Wakeup(self.client) as wakeup:
            while True:
                wakeup.event.clear()
                members = sorted(self._members())
                if not members:
                    break
                if members == [self.node_name]:
                    self._leave_last()
                    break
                if members[0] == self.node_name:
                    awaited = members[-1]  # the lowest goes last
                else:
                    if self.node_name in members:
                        self._delete_own()
                    awaited = members[0]
                if not self._exists(join(self.path, awaited), wakeup):
                    continue
                if not wakeup.event.wait(deadline.remaining()):
                    return False
        self.participating = False
        return True

    def _members(self) -> list[str]:
        return [name for name in children(self.client, self.path) if name != READY]

    def _delete_with_ready(self) -> list[object]:
        transaction = self.client.transaction()
        transaction.delete(self.ready_path)
        transaction.delete(self.create_path)
        return transaction.commit()

    def _exists(self, path: str, watch: Watcher) -> bool:
        return retrying(self.client, lambda: self.client.exists(path, watch)) is not None

    def _delete_own(self) -> None:
        with contextlib.suppress(NoNodeError):
            retrying(self.client, lambda: self.client.delete(self.create_path))
        self.participating = False

    def _leave_last(self) -> None:
        """The last member out deletes `ready` and its own node in one transaction
        (its own node alone when `ready` is already gone)."""
        if transaction_error(retrying(self.client, self._delete_with_ready)):
            self._delete_own()
