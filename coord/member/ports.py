"""What the driver needs of the disk and of the peers, and what flows back.

The driver (driver.py) sees the disk only as a ``Store`` and the other
members only as a ``Transport``: LevelDB and gRPC in a running member
(coord/storage.py, coord/peers/), memory and a simulated network in the
simulator (tests/paxos_sim.py). Completions and events flow back through
the interfaces named here, handed over at construction, never through a
callback set from below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from coord.paxos import Ballot, Message
from coord.paxos.messages import Entry
from coord.wire import admin_pb2

# Called once a write is on disk (None) or can never be (the error), on
# the driver's thread: later, or within the call that asked for the write
# (a quiet disk's write done in the caller's thread, coord/storage_writer.py).
Done = Callable[[BaseException | None], None]


class Store(Protocol):
    """The acceptor's disk, as the driver writes it."""

    @property
    def failure(self) -> str | None:
        """Why writes cannot be done now; None if they can."""

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]:
        """The promise, the accepted entries and the log start, as persisted."""

    def persist_acceptor(
        self, promised: Ballot | None, entries: list[Entry], truncate: int, done: Done
    ) -> None:
        """Write what the core asked for, durably and after every earlier write."""

    def install_state(self, slot: int, zxid: int, items: list, done: Done) -> None:
        """Replace the applied state with a peer's, as of `slot`, and drop
        the log it covers, in one durable write."""


class Transport(Protocol):
    """The other members, as the driver reaches them. Both may lose what
    they carry (Paxos resends what matters)."""

    def send(self, messages: Sequence[Message]) -> None:
        """Send messages to other members (each to its `dst`), in order."""

    def send_snapshot(self, peer: int, floor: int) -> None:
        """Ship our applied state to `peer`, if it covers at least slot `floor`."""


class ReadAnswers(Protocol):
    def answered(self, request: int, index: int) -> None:
        """The read index asked for as `request` (0: refused)."""


class PeerEvents(Protocol):
    def peer_lost(self, peer: int) -> None:
        """The connection to `peer` broke."""


class DiskEvents(Protocol):
    def disk_failed(self, reason: str | None) -> None:
        """Writes are stuck for `reason` (None: they land again). Called on
        the store's writer thread: the receiver moves to its own."""


class Peers(Transport, Protocol):
    """The Transport as the asyncio log runs it (coord/peers/ over gRPC)."""

    frames_out: int

    def start(self, events: PeerEvents) -> None:
        """Connect; `events` hears of each connection that breaks."""

    async def stop(self) -> None: ...

    def touch(self, leader: int, session_ids: list[int]) -> bool:
        """Tell the leader these sessions are alive; False if it is not reachable."""

    def set_faults(self, faults: admin_pb2.Faults) -> None:
        """Per-link faults (tests only)."""
