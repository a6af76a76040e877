"""How a ``Node`` runs: its timing, its window and batching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    heartbeat: float = 0.1
    election_timeout: float = 1.0  # a follower waits a random time in [E, 2E]
    window: int = 64  # unchosen slots in flight
    max_batch: int = 64  # slots per Accept message
    # With `combine`, the values queued while `combine_after` slots are in
    # flight share the next slot (up to `combine_bytes`), so a busy leader
    # proposes fewer, larger slots: every slot costs each member messages, an
    # fsync and an apply (Nagle's algorithm, for slots). None: one value per
    # slot, up to `window` in flight.
    combine: Callable[[list[bytes]], bytes] | None = None
    combine_after: int = 1
    combine_bytes: int = 1 << 20
    # A read-index request that found no leader for this long is dropped.
    forward_timeout: float = 5.0
