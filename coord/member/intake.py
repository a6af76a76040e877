"""Intake: where a write enters the log, and where its waiter waits.

A write becomes a command, the commands queued in one turn of the event loop
become one batch stamped with the leader's clock, and the batch is proposed
to the log. Until the apply stage reports it applied, the request waits in a
table here, by a request id unique across restarts. When the leader we
proposed through is lost, a session's writes are proposed again (the tree
applies each (session, xid) once); any other waiting write ends with
connection loss, as does every write waiting past its deadline.

While the member's disk cannot be written (storage reports why), new writes
are refused (NOT_READ_ONLY, not applied) and those waiting end with
connection loss (their outcome is unknown); the member takes writes again
as soon as storage does.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coord import trace
from coord.clock import Clock
from coord.outcome import Applied
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord.member.log import ReplicatedLog
    from coord.storage import Storage

MAX_BATCH_COMMANDS = 1024
DROP_MARGIN = 0.2  # of the request timeout: a proposal without a leader goes this early


@dataclass(slots=True)
class _Waiting:
    """A write proposed from here, and whoever waits for its result."""

    future: asyncio.Future[Applied]
    command: log_pb2.Command
    deadline: float
    on_applied: Callable[[], None] | None = None

    def fail(self, reason: str) -> None:
        if not self.future.done():
            error = pb.Error(code=pb.CONNECTION_LOSS, message=reason)
            self.future.set_result(Applied(error, []))


class Intake:
    def __init__(
        self,
        log: ReplicatedLog,
        storage: Storage,
        member_id: int,
        clock: Clock,
        request_timeout: float,
    ) -> None:
        self._log = log
        self._storage = storage
        self._member_id = member_id
        self._clock = clock
        # A proposal that found no leader is dropped before its request times
        # out, so a request reported failed never takes effect later.
        self._request_timeout = request_timeout
        # Writes proposed here and not yet applied, by request id, in order.
        self._waiting: dict[int, _Waiting] = {}
        # Unique across restarts, so a command proposed before a crash and
        # chosen after it cannot resolve a new request's waiter.
        self._request_ids = itertools.count(time.time_ns())
        self._pending: list[_Waiting] = []

    def submit(
        self, command: log_pb2.Command, on_applied: Callable[[], None] | None = None
    ) -> asyncio.Future[Applied]:
        """Propose a command; the future resolves once it has been applied.
        `on_applied` runs right after the apply, before the next command is
        applied: a session answers the reads queued behind this write there,
        so they see exactly the state this write left."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            loop.create_future(), command, self._clock.now() + self._request_timeout, on_applied
        )
        refusal = self.write_refusal()
        if refusal is not None:
            waiting.future.set_result(Applied(refusal, []))
        else:
            self._propose(waiting)
        return waiting.future

    def write_refusal(self) -> pb.Error | None:
        """Why no write can be proposed here now, if none can: the data dir
        cannot be written. A write refused so was not applied."""
        if self._storage.failure is None:
            return None
        message = f"{self._disk_failure()}; the write was not applied"
        return pb.Error(code=pb.NOT_READ_ONLY, message=message)

    def _disk_failure(self) -> str:
        return f"member {self._member_id} cannot write its data dir: {self._storage.failure}"

    def disk_failed(self, reason: str | None) -> None:
        """Writes waiting here may or may not be chosen once the disk is
        back: say so now (connection loss) rather than when they time out."""
        if reason is not None:
            self.fail_all(f"{self._disk_failure()}; the outcome is unknown")

    def _propose(self, waiting: _Waiting) -> None:
        request_id = next(self._request_ids)
        waiting.command.origin_member = self._member_id
        waiting.command.origin_request = request_id
        idle = not self._waiting
        self._waiting[request_id] = waiting
        if idle:
            # Nothing of ours in flight: no batch to wait for.
            self._pending.append(waiting)
            self._flush()
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(waiting)

    def _flush(self) -> None:
        """Propose what is pending as one batch (a turn after the first
        request, or at once when none of ours was in flight), stamped with
        our clock. A
        batch that finds no leader is dropped before its first request
        would time out, so a request reported failed never applies later."""
        pending, self._pending = self._pending, []
        if trace.ON:
            trace.commands("batch", (w.command for w in pending))
        time_ms = int(time.time() * 1000)
        for start in range(0, len(pending), MAX_BATCH_COMMANDS):
            chunk = pending[start : start + MAX_BATCH_COMMANDS]
            batch = log_pb2.Batch(time_ms=time_ms, commands=[w.command for w in chunk])
            expires = min(w.deadline for w in chunk) - DROP_MARGIN * self._request_timeout
            self._log.propose(batch.SerializeToString(), expires)

    def resolve(self, command: log_pb2.Command, applied: Applied) -> None:
        """`command` was just applied: if it was proposed here, its waiter
        gets the result (and runs its `on_applied` before the next command)."""
        if command.origin_member != self._member_id:
            return
        waiting = self._waiting.pop(command.origin_request, None)
        if waiting is not None and not waiting.future.done():
            waiting.future.set_result(applied)
            if waiting.on_applied is not None:
                waiting.on_applied()

    def leader_changed(self, leader: int | None, previous: int | None) -> None:
        """We lost the leader we proposed through, and with it perhaps some
        of our proposals. A session's writes are proposed again, in order:
        the tree applies each (session, xid) once and in the session's order.
        Other writes have an unknown outcome now: say so (connection loss)
        rather than hang."""
        if previous is None or previous == leader:
            return
        waiting, self._waiting = self._waiting, {}
        for entry in waiting.values():
            if entry.command.session_id and entry.command.xid:
                self._propose(entry)
            else:
                entry.fail("the leader changed; the outcome is unknown")

    def time_out_requests(self) -> None:
        """End the writes no leader took in time (the log drops their batch
        before this, so none of them applies later)."""
        now = self._clock.now()
        expired = [rid for rid, entry in self._waiting.items() if entry.deadline < now]
        for request_id in expired:
            self._waiting.pop(request_id).fail("no leader took the request in time")

    def fail_all(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for entry in waiting.values():
            entry.fail(reason)
