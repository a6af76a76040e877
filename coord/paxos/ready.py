"""What a ``Node`` hands its runtime to do, in order (see node.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from coord.paxos.ballot import Ballot
from coord.paxos.messages import Entry, Message


@dataclass
class Ready:
    promised: Ballot | None = None
    entries: list[Entry] = field(default_factory=list)
    truncate: int = 0  # drop accepted entries up to this slot
    messages: list[Message] = field(default_factory=list)
    chosen: list[tuple[int, bytes]] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)  # (request, index); 0: refused

    def must_persist(self) -> bool:
        return self.promised is not None or bool(self.entries) or bool(self.truncate)
