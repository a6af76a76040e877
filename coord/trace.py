"""Stage marks of the writes through this member, to see where a write's time goes.

Off by default: every mark site reads ``trace.ON`` first, one global read
when off. The Admin.Trace call turns it on, and off again, taking the marks
(a bounded ring: the oldest go first). A mark is a time.monotonic_ns()
reading, which is one clock for the whole machine on Linux, so the marks of
the members and of a client on one machine line up.

A mark names its stage and what it is about: a log slot, a command's
(session id, xid), and the peer of a message. Peer messages are marked only
when they carry a write's progress: an Accept with values, the first Accepted
(a vote) to carry a new match; heartbeats and their answers are left out, and
so is the commit point an Accept carries (on three members the followers
learn from the votes, and a heartbeat carries the commit point only later).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from coord.paxos import wire as paxos_wire
from coord.paxos.messages import Accept, Accepted, Forward, Message
from coord.paxos.node import Ready
from coord.wire import log_pb2

CAPACITY = 50_000

ON = False


class Mark(NamedTuple):
    t_ns: int
    stage: str
    slot: int = 0
    session_id: int = 0
    xid: int = 0
    peer: int = 0


_marks: deque[Mark] = deque(maxlen=CAPACITY)
_lock = threading.Lock()  # around the progress seen (the writer thread marks too)
# Per (stage, peer), the highest slot marked: a repeat is a heartbeat's.
_progress: dict[tuple[str, int], int] = {}


def start() -> None:
    """Forget what was marked, and mark from now on."""
    global ON
    _marks.clear()
    _progress.clear()
    ON = True


def stop() -> list[Mark]:
    """Stop marking; what was marked, oldest first."""
    global ON
    ON = False
    marks = list(_marks)
    _marks.clear()
    return marks


def marks() -> list[Mark]:
    """What was marked so far, oldest first (marking goes on)."""
    return list(_marks)


def mark(stage: str, slot: int = 0, session_id: int = 0, xid: int = 0, peer: int = 0) -> None:
    _marks.append(Mark(time.monotonic_ns(), stage, slot, session_id, xid, peer))


def commands(stage: str, batch: Iterable[log_pb2.Command], slot: int = 0) -> None:
    """A mark per command of a batch, by its session and xid."""
    for command in batch:
        mark(stage, slot, command.session_id, command.xid)


def slots(stage: str, slot_numbers: Iterable[int]) -> None:
    for slot in slot_numbers:
        mark(stage, slot)


def ready(ready: Ready) -> None:
    """What the core asks of the runtime: entries to persist, slots chosen."""
    slots("persist", (entry.slot for entry in ready.entries))
    slots("chosen", (slot for slot, _ in ready.chosen))


def wire(direction: str, messages: Iterable) -> None:
    """Peer messages in their wire form."""
    for encoded in messages:
        decoded = paxos_wire.decode(encoded)
        if decoded is not None:
            message(direction, decoded)


def message(direction: str, msg: Message) -> None:
    """A peer message (decoded) that carries a write's progress, as
    `<kind>_<direction>`: queued (to its link), written (to the wire), in."""
    peer = msg.dst if direction != "in" else msg.src
    if isinstance(msg, Accept):
        for offset in range(len(msg.values)):
            mark("accept_" + direction, msg.start + offset, peer=peer)
    elif isinstance(msg, Accepted):
        if _advanced("accepted_" + direction, peer, msg.match):
            mark("accepted_" + direction, msg.match, peer=peer)
    elif isinstance(msg, Forward):
        for value in msg.values:
            for command in log_pb2.Batch.FromString(value).commands:
                mark("forward_" + direction, 0, command.session_id, command.xid, peer)


def _advanced(stage: str, peer: int, slot: int) -> bool:
    with _lock:
        if slot <= _progress.get((stage, peer), 0):
            return False
        _progress[(stage, peer)] = slot
        return True
