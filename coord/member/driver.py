"""The driver: the runtime's half of the Paxos core's contract, on one thread.

It owns the sans-I/O ``Node`` and carries out every ``Ready`` it hands
back: records go to the ``Store``; the messages that came with them go to
the ``Transport`` in order and only once those records are on disk (the
outbox); chosen values go up in slot order, held while a snapshot
installs; snapshot requests go to the Transport; read-index answers and
role changes go up. It does no I/O and keeps no time of its own: whoever
owns the thread (log.py under asyncio, the simulator in the tests) calls
``tick`` and reports each write's completion through the ``Done`` it was
handed, on this same thread.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from coord import trace
from coord.member.events import LogEvents
from coord.member.ports import Done, ReadAnswers, Store, Transport
from coord.paxos import Config, Message, Node, Ready, Role

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Write:
    """One write to the Store, until it reports."""

    done: bool = False
    error: BaseException | None = None


class Driver:
    def __init__(
        self,
        member_id: int,
        members: Iterable[int],
        config: Config,
        rng: random.Random,
        now: float,
        applied: int,
        store: Store,
        transport: Transport,
        events: LogEvents,
        answers: ReadAnswers,
    ) -> None:
        self.member_id = member_id
        self.store = store
        self._transport = transport
        self._events = events
        self._answers = answers
        promised, accepted, log_start = store.load_acceptor()
        self.node = Node(
            member_id, list(members), config, rng, now=now,
            promised=promised, accepted=accepted, log_start=log_start, applied=applied,
        )  # fmt: skip
        self.applied_slot = applied
        # Messages wait for the write of the Ready they came with.
        self._outbox: deque[tuple[_Write | None, list[Message]]] = deque()
        self._own: deque[Message] = deque()  # sent to ourselves, received next
        self._draining = False
        self.installing = False
        self._held: list[tuple[int, bytes]] = []  # chosen while a snapshot installs
        self._last_role: tuple[Role, int | None] = (Role.FOLLOWER, None)

    # -------------------------------------------------------------- inputs

    def tick(self, now: float) -> None:
        self.node.tick(now)
        self.drain()

    def propose(self, value: bytes, expires: float) -> None:
        self.node.propose(value, expires)
        self.drain()

    def read_index(self, request: int) -> None:
        """The answer comes up as `answers.answered(request, index)`."""
        self.node.read_index(request)
        self.drain()

    def receive(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.node.receive(message)
        self.drain()

    def peer_lost(self, peer: int) -> None:
        self.node.peer_lost(peer)
        self.drain()

    def truncate(self, slot: int) -> None:
        """The applied state is on disk through `slot`: drop the log below."""
        self.node.truncate(slot)
        self.drain()

    def applied(self, slot: int) -> None:
        self.applied_slot = slot

    def install_snapshot(self, slot: int, zxid: int, items: list, done: Done) -> bool:
        """Replace our state with a peer's, as of `slot`; what is chosen
        meanwhile waits. Refused (False, `done` never called) unless it is
        newer than what we applied, none installs yet, and the disk can be
        written (the peer sends it again later); else `done` says how the
        Store's write ended, once the state is ours."""
        if slot <= self.applied_slot or self.installing or self.store.failure:
            return False
        self.installing = True

        def installed(error: BaseException | None) -> None:
            self.installing = False
            if error is None:
                self._installed(slot)
            done(error)

        try:
            self.store.install_state(slot, zxid, items, installed)
        except BaseException:
            self.installing = False
            raise
        return True

    def _installed(self, slot: int) -> None:
        held, self._held = self._held, []
        self.applied_slot = slot
        self._events.state_installed(slot)
        self.node.install_snapshot(slot)
        for chosen_slot, value in held:
            if chosen_slot > slot:
                self._events.chosen(chosen_slot, value)
        self.drain()

    # ------------------------------------------------------------- outputs

    def drain(self) -> None:
        """Carry out every Ready the core has for us, and what we sent ourselves."""
        if self._draining:
            return  # the loop below picks up what the caller changed
        self._draining = True
        try:
            while True:
                ready = self.node.ready()
                if (
                    ready.must_persist()
                    or ready.messages
                    or ready.chosen
                    or ready.snapshots
                    or ready.reads
                ):
                    self._carry_out(ready)
                elif self._own:
                    message = self._own.popleft()
                    if trace.ON:
                        trace.message("in", message)
                    self.node.receive(message)
                else:
                    break
        finally:
            self._draining = False
        role = (self.node.role, self.node.leader)
        if role != self._last_role:
            previous_leader = self._last_role[1]
            self._last_role = role
            log.info(
                "%s, leader %s, ballot %s", role[0].value, role[1] or "unknown", self.node.promised
            )
            self._events.role_changed(*role, previous_leader)

    def _carry_out(self, ready: Ready) -> None:
        if trace.ON:
            trace.ready(ready)
        write = None
        if ready.must_persist():
            write = _Write()
            done = partial(self._written, write)
            self.store.persist_acceptor(ready.promised, ready.entries, ready.truncate, done)
        # Chosen values go up before this Ready's messages go to the links,
        # so the answers they make are queued ahead of the votes and notices.
        if self.installing:
            self._held.extend(ready.chosen)
        else:
            for slot, value in ready.chosen:
                self._events.chosen(slot, value)
        if ready.messages:
            self._outbox.append((write, ready.messages))
            self._flush()
        floor = self.node.log_start - 1
        for peer in ready.snapshots:
            self._transport.send_snapshot(peer, floor)
        for request, index in ready.reads:
            self._answers.answered(request, index)

    def _written(self, write: _Write, error: BaseException | None) -> None:
        write.done, write.error = True, error
        self._flush()
        self.drain()

    def _flush(self) -> None:
        """Send, in order, the messages whose records are on disk."""
        while self._outbox:
            write, messages = self._outbox[0]
            if write is not None and not write.done:
                return
            self._outbox.popleft()
            if write is not None and write.error is not None:
                # Stopping with the disk unwritable: their records are not
                # on disk, so the messages are not sent (as if lost).
                log.warning("dropped %d messages: %s", len(messages), write.error)
                continue
            others = []
            for message in messages:
                if trace.ON:
                    trace.message("queued", message)
                if message.dst == self.member_id:
                    self._own.append(message)
                else:
                    others.append(message)
            self._transport.send(others)
