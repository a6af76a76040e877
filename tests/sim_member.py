"""One simulated member of tests/paxos_sim.py: what survives its crashes
(``Disk``), and what its production driver is handed: the Store (writes
land after a simulated delay, in order), the Transport (the world's
network) and what sits above it (applies and checks what is chosen)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from coord.member.driver import Driver
from coord.member.ports import Done
from coord.paxos import ZERO, Ballot, Message, Role
from coord.paxos.messages import Entry

if TYPE_CHECKING:
    from tests.paxos_sim import World


@dataclass
class Disk:
    """What survives a crash: the acceptor's records and the applied state."""

    promised: Ballot = ZERO
    accepted: dict[int, tuple[Ballot, bytes]] = field(default_factory=dict)
    log_start: int = 1
    applied: list[bytes] = field(default_factory=list)  # values of slots 1..n


@dataclass
class Member:
    id: int
    disk: Disk
    driver: Driver | None = None
    applied: list[bytes] = field(default_factory=list)  # the state in memory, slots 1..n
    # Writes handed to the disk and not landed yet, in order: (land, done).
    writes: deque[tuple[Callable[[], None], Done]] = field(default_factory=deque)
    disk_free_at: float = 0.0
    incarnation: int = 0  # events of an earlier life are ignored
    paused_until: float = 0.0  # its events wait till then (a stalled process)
    revealed: Ballot = ZERO  # the highest ballot it told a peer it promised
    # slot -> the highest ballot it told a peer it accepted that slot in
    revealed_entries: dict[int, Ballot] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.driver is not None


class MemberStore:
    """A member's Disk as the driver's Store: each write lands after a
    simulated delay, after the writes before it (an acceptor write that
    finds none in flight, sometimes within the call)."""

    failure = None

    def __init__(self, world: World, member: Member) -> None:
        self._world = world
        self._member = member

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]:
        disk = self._member.disk
        return disk.promised, dict(disk.accepted), disk.log_start

    def persist_acceptor(
        self, promised: Ballot | None, entries: list[Entry], truncate: int, done: Done
    ) -> None:
        land = partial(self._world.land_acceptor, self._member, promised, list(entries), truncate)
        self._world.write(self._member, land, done, may_land_now=True)

    def install_state(self, slot: int, zxid: int, items: list, done: Done) -> None:
        land = partial(self._world.land_state, self._member, slot, tuple(items))
        self._world.write(self._member, land, done)


class MemberNetwork:
    """The network as one member's Transport."""

    def __init__(self, world: World, member: Member) -> None:
        self._world = world
        self._member = member

    def send(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._world.send(self._member, message)

    def send_snapshot(self, peer: int, floor: int) -> None:
        if len(self._member.disk.applied) >= floor:
            self._world.ship_snapshot(self._member, peer)


class MemberAbove:
    """What sits above a member's driver (its LogEvents and ReadAnswers):
    applies what is chosen and checks it."""

    def __init__(self, world: World, member: Member) -> None:
        self._world = world
        self._member = member

    def chosen(self, slot: int, value: bytes) -> None:
        self._world.apply(self._member, slot, value)

    def state_installed(self, slot: int) -> None:
        self._member.applied = list(self._member.disk.applied)
        self._world.counts["snapshots"] += 1

    def sessions_touched(self, session_ids: list[int]) -> None:
        pass

    def role_changed(self, role: Role, leader: int | None, previous: int | None) -> None:
        pass

    def answered(self, request: int, index: int) -> None:
        self._world.answered(self._member, request, index)
