"""The driver's contract, one rule at a time, with a disk whose writes land
only when the test says so (the simulator checks the same rules under
chaos, tests/paxos_sim.py)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

from coord.member.driver import Driver
from coord.member.ports import Done
from coord.paxos import Ballot, Config, Message
from coord.paxos.messages import Accept, Accepted, Prepare, Probe, ProbeReply, Promise
from tests.sim_member import MemberAbove


class HeldDisk:
    """A Store whose writes wait until `land()`."""

    failure = None

    def __init__(self) -> None:
        self.waiting: deque[tuple[str, Done]] = deque()

    def load_acceptor(self):
        return Ballot(0, 0), {}, 1

    def persist_acceptor(self, promised, entries, truncate, done: Done) -> None:
        self.waiting.append(("acceptor", done))

    def install_state(self, slot, zxid, items, done: Done) -> None:
        self.waiting.append((f"state {slot}", done))

    def land(self) -> str:
        what, done = self.waiting.popleft()
        done(None)
        return what


class QuietDisk(HeldDisk):
    """A Store whose acceptor writes land within the call while none waits
    (as coord/storage_writer.py's write_now on a quiet member)."""

    def persist_acceptor(self, promised, entries, truncate, done: Done) -> None:
        if self.waiting:
            super().persist_acceptor(promised, entries, truncate, done)
        else:
            done(None)


class LateReportDisk(HeldDisk):
    """A Store whose first write's report is held while the next lands
    within its call: the storage's writer thread has written one and its
    report is on its way to the loop when the loop writes the next itself."""

    def persist_acceptor(self, promised, entries, truncate, done: Done) -> None:
        if self.waiting:
            done(None)
        else:
            super().persist_acceptor(promised, entries, truncate, done)


class Wire:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.snapshots: list[tuple[int, int]] = []

    def send(self, messages: Sequence[Message]) -> None:
        self.sent.extend(messages)

    def send_snapshot(self, peer: int, floor: int) -> None:
        self.snapshots.append((peer, floor))


class Above(MemberAbove):
    """Records what comes up (the rest as in the simulator: nothing)."""

    def __init__(self) -> None:
        self.chosen_slots: list[int] = []
        self.installed: list[int] = []

    def chosen(self, slot: int, value: bytes) -> None:
        self.chosen_slots.append(slot)

    def state_installed(self, slot: int) -> None:
        self.installed.append(slot)


def member(applied: int = 0, disk: HeldDisk | None = None) -> tuple[Driver, HeldDisk, Wire, Above]:
    disk, wire, above = disk or HeldDisk(), Wire(), Above()
    driver = Driver(
        1, [1, 2, 3], Config(), random.Random(1), 0.0, applied, disk, wire, above, above
    )
    return driver, disk, wire, above


def test_a_reply_waits_for_its_record_and_what_follows_waits_behind_it() -> None:
    driver, disk, wire, _ = member()
    driver.receive([Prepare(2, 1, Ballot(5, 2), 1)])  # a promise to make durable
    driver.receive([Probe(3, 1, 6, 0)])  # needs no write, but comes after
    assert wire.sent == []
    assert disk.land() == "acceptor"
    assert [type(m) for m in wire.sent] == [Promise, ProbeReply]


def test_a_followers_vote_to_itself_counts_only_once_its_record_is_durable() -> None:
    """On three members the leader's vote and ours choose a slot
    (tests/test_paxos_votes.py); ours is a message to ourselves, so it
    waits for the record as the one to the leader does."""
    driver, disk, wire, above = member()
    leader = Ballot(1, 2)
    driver.receive([Accept(2, 1, leader, 1, (b"v",), 0, 1), Accepted(2, 1, leader, 1, 1, 1)])
    assert above.chosen_slots == [] and wire.sent == []
    assert disk.land() == "acceptor"
    assert [(type(m), m.dst) for m in wire.sent] == [(Accepted, 2)]
    assert above.chosen_slots == [1]


def test_a_write_done_within_its_call_sends_and_counts_at_once() -> None:
    """The record is durable when persist_acceptor returns: the vote goes
    out and our own counts within the same call, and so does a promise."""
    driver, disk, wire, above = member(disk=QuietDisk())
    leader = Ballot(1, 2)
    driver.receive([Accept(2, 1, leader, 1, (b"v",), 0, 1), Accepted(2, 1, leader, 1, 1, 1)])
    assert [(type(m), m.dst) for m in wire.sent] == [(Accepted, 2)]
    assert above.chosen_slots == [1]
    driver.receive([Prepare(3, 1, Ballot(5, 3), 2)])
    assert [(type(m), m.dst) for m in wire.sent[1:]] == [(Promise, 3)]
    assert not disk.waiting


def test_a_write_reported_within_its_call_sends_behind_an_earlier_one() -> None:
    driver, disk, wire, _ = member(disk=LateReportDisk())
    driver.receive([Prepare(2, 1, Ballot(5, 2), 1)])  # its report is held
    driver.receive([Accept(2, 1, Ballot(5, 2), 1, (b"v",), 0, 1)])  # reported at once
    assert wire.sent == []
    assert disk.land() == "acceptor"
    assert [type(m) for m in wire.sent] == [Promise, Accepted]


def test_what_is_chosen_while_a_snapshot_installs_waits_for_it() -> None:
    driver, disk, _, above = member()
    installed: list[BaseException | None] = []
    assert driver.install_snapshot(3, 0, [], installed.append)
    # Slots 1..5 chosen meanwhile (learned from the leader's commit point).
    driver.receive([Accept(2, 1, Ballot(1, 2), 1, tuple(b"v" for _ in range(5)), 5, 1)])
    assert above.chosen_slots == []
    assert disk.land() == "state 3"
    assert installed == [None]
    assert above.installed == [3]
    assert above.chosen_slots == [4, 5]  # those the snapshot covers are not applied again


def test_a_snapshot_no_newer_than_the_applied_state_is_refused() -> None:
    driver, disk, _, above = member(applied=7)
    assert not driver.install_snapshot(7, 0, [], lambda error: None)
    assert not driver.install_snapshot(3, 0, [], lambda error: None)
    assert not disk.waiting and not above.installed
