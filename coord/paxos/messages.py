"""Peer messages. Every message names its sender and its receiver.

An Accept with no values is the leader's heartbeat; every Accept carries the
commit point, so followers learn what is chosen from the next message.
"""

from __future__ import annotations

from dataclasses import dataclass

from coord.paxos.ballot import Ballot


@dataclass(frozen=True, slots=True)
class Entry:
    slot: int
    ballot: Ballot
    value: bytes


@dataclass(frozen=True, slots=True)
class Probe:
    """Pre-vote: would you promise a new ballot? Changes nothing durable."""

    src: int
    dst: int
    round: int
    commit: int


@dataclass(frozen=True, slots=True)
class ProbeReply:
    src: int
    dst: int
    round: int
    granted: bool


@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a for every slot from `from_slot` on."""

    src: int
    dst: int
    ballot: Ballot
    from_slot: int


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: what this acceptor accepted from `from_slot` on."""

    src: int
    dst: int
    ballot: Ballot
    entries: tuple[Entry, ...]
    commit: int
    log_start: int


@dataclass(frozen=True, slots=True)
class Reject:
    """A Prepare or Accept below the acceptor's promise."""

    src: int
    dst: int
    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a for slots start, start+1, ...; empty: a heartbeat."""

    src: int
    dst: int
    ballot: Ballot
    start: int
    values: tuple[bytes, ...]
    commit: int
    seq: int


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b: every slot up to `match` is accepted in `ballot` (or known
    chosen) here. `start` echoes the Accept answered, so the leader can tell
    a gap from a reply that is merely behind its pipeline."""

    src: int
    dst: int
    ballot: Ballot
    start: int
    match: int
    seq: int


@dataclass(frozen=True, slots=True)
class Forward:
    """A follower hands proposals to the leader."""

    src: int
    dst: int
    values: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ReadIndex:
    src: int
    dst: int
    request: int
    # The asker's promise when it asked: if it is the leader's ballot, the
    # asker counts toward the quorum that confirms the index (reads.py).
    ballot: Ballot


@dataclass(frozen=True, slots=True)
class ReadIndexReply:
    src: int
    dst: int
    request: int
    index: int  # 0: refused (not the leader any more); a leader's index is >= 1


Message = (
    Probe | ProbeReply | Prepare | Promise | Reject | Accept | Accepted | Forward
    | ReadIndex | ReadIndexReply
)  # fmt: skip
