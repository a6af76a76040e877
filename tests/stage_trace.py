"""The stages of writes, one at a time, through a real cluster: the members'
marks (Admin.Trace) and the client's (coord_client.stream.frames_seen)
joined per write, for the guard test and scripts/trace_write.

A write is joined by what each mark is about: the client's and the door's
marks by xid, the member's intake and apply by (session, xid), the log's by
the slot the write's apply names. Who made a mark is named by role: "client",
"L" (the leader), "F" (the follower the client is on, if it is on one), and
the other followers "F1", "F2"... by member id; a peer message's other end
likewise, after "@".
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from coord.wire import admin_pb2
from coord_client import stream
from coord_client.client import Client
from tests.servers import Cluster

SETTLE_WRITES = 2  # untraced writes after the traced ones (see settle)
Event = tuple[int, str]  # (t_ns, "who:stage[@peer]")


@dataclass
class Traced:
    """The writes' events, each write's in time order, and who is who."""

    writes: list[list[Event]]
    roles: dict[int, str]


def roles(cluster: Cluster, leader: int, home: int) -> dict[int, str]:
    others = sorted(i for i in cluster.members if i not in (leader, home))
    names = {i: f"F{n}" for n, i in enumerate(others, 1)}
    names[leader] = "L"
    if home != leader:
        names[home] = "F"
    return names


def trace_writes(cluster: Cluster, home: int, count: int, value: bytes = b"v" * 100) -> Traced:
    """`count` sets of one znode, one at a time, by a client on member
    `home`, traced on every member and in the client."""
    leader = cluster.leader()
    names = roles(cluster, leader, home)
    client = Client(hosts=cluster.members[home].address, timeout=10)
    client.start()
    try:
        path = f"/traced-{home}"
        client.ensure_path(path)
        for member in cluster.members.values():
            member.admin("Trace", admin_pb2.TraceRequest(action=admin_pb2.TraceRequest.START))
        stream.frames_seen = seen = []
        try:
            for _ in range(count):
                client.set(path, value)
        finally:
            stream.frames_seen = None
        session_id = client.client_id[0]
        settle(cluster, client, path, leader)
    finally:
        client.stop()
        client.close()
    marks = {
        member_id: member.admin("Trace", admin_pb2.TraceRequest()).marks
        for member_id, member in cluster.members.items()
    }
    return Traced(join(seen, marks, session_id, names), names)


def settle(cluster: Cluster, client: Client, path: str, leader: int) -> None:
    """Wait until every mark of the traced writes is made: a few more writes,
    until every member applied the last and the leader heard every follower
    accept it. A follower persists, and then answers, its slots in order on
    one link, so that covers the traced writes' last marks too."""
    for _ in range(SETTLE_WRITES):
        client.set(path, b"settle")
    last = cluster.own_status(leader).applied_slot
    followers = {i for i in cluster.members if i != leader}

    def done() -> bool:
        marks = {
            i: m.admin("Trace", admin_pb2.TraceRequest(action=admin_pb2.TraceRequest.PEEK)).marks
            for i, m in cluster.members.items()
        }
        applied = all(any(k.stage == "apply" and k.slot >= last for k in marks[i]) for i in marks)
        heard = {k.peer for k in marks[leader] if k.stage == "accepted_in" and k.slot >= last}
        return applied and followers <= heard

    Cluster.wait_until(done)


def join(
    seen: list[tuple[int, str, int]],
    marks: dict[int, list],
    session_id: int,
    names: dict[int, str],
) -> list[list[Event]]:
    """Each traced write's events, in time order."""
    xids = [xid for _, stage, xid in seen if stage == "client_send"]
    slot_of = {}
    for member_marks in marks.values():
        for mark in member_marks:
            if mark.stage == "apply" and mark.session_id == session_id:
                slot_of[mark.xid] = mark.slot
    by_xid: dict[int, list[Event]] = defaultdict(list)
    by_slot: dict[int, list[Event]] = defaultdict(list)
    for t_ns, stage, xid in seen:
        by_xid[xid].append((t_ns, f"client:{stage}"))
    for member_id, member_marks in marks.items():
        who = names[member_id]
        for mark in member_marks:
            label = f"{who}:{mark.stage}" + (f"@{names[mark.peer]}" if mark.peer else "")
            if mark.slot and not mark.session_id:
                by_slot[mark.slot].append((mark.t_ns, label))
            elif mark.session_id == session_id:
                by_xid[mark.xid].append((mark.t_ns, label))
    return [sorted(by_xid[xid] + by_slot[slot_of[xid]]) for xid in xids if xid in slot_of]


def stages(write: list[Event], who: str) -> list[str]:
    """One member's (or the client's) stages of a write, in time order."""
    prefix = who + ":"
    return [label[len(prefix) :] for _, label in write if label.startswith(prefix)]


@dataclass
class Row:
    label: str
    at_mean_us: float  # after the client sent
    at_p50_us: float
    delta_mean_us: float  # after the row before
    delta_p50_us: float
    count: int


def waterfall(writes: list[list[Event]]) -> list[Row]:
    """Each stage's time after the client's send, and after the stage before
    it (the rows in order of their mean time), over the writes that have it."""
    at: dict[str, list[float]] = defaultdict(list)
    for write in writes:
        start = write[0][0]
        for t_ns, label in write:
            at[label].append((t_ns - start) / 1000)
    order = sorted(at, key=lambda label: statistics.fmean(at[label]))
    rows, previous = [], None
    for label in order:
        deltas = []
        if previous is not None:
            for write in writes:
                times = dict((lb, t) for t, lb in reversed(write))  # first of each label
                if label in times and previous in times:
                    deltas.append((times[label] - times[previous]) / 1000)
        rows.append(
            Row(
                label,
                statistics.fmean(at[label]),
                statistics.median(at[label]),
                statistics.fmean(deltas) if deltas else 0.0,
                statistics.median(deltas) if deltas else 0.0,
                len(at[label]),
            )
        )
        previous = label
    return rows
