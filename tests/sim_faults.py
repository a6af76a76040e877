"""A seed's fault mix for the simulator (tests/paxos_sim.py): what the
world does to the members (their network, crashes, disks), drawn
once per seed and printed with a failure so that it can be read."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Faults:
    """A seed's fault mix; printed with a failure so it can be read."""

    drop: float
    duplicate: float
    max_delay: float
    partition_every: float  # mean seconds between partition changes; 0: none
    crash_every: float  # mean seconds between crashes; 0: none
    crash_after_persist: float  # chance a crash lands between persist and send
    truncate_tail: int  # keep this many applied slots in the log
    disk_delay: float  # a write lands within this many seconds (after the one before)
    crash_mid_write: float  # chance a crash lands while a write is in flight
    # chance an acceptor write finding none in flight lands within the call,
    # as coord/storage_writer.py writes on a quiet member (write_now)
    disk_at_once: float
    # mean seconds between pauses of a member (a stall: no tick, message or
    # disk completion is handled until it ends; then its backlog, in some
    # order); 0: none. Drawn apart from the rest (World), so the other
    # faults' schedules stay what they were.
    pause_every: float = 0.0

    @classmethod
    def draw(cls, rng: random.Random) -> Faults:
        return cls(
            drop=rng.choice([0.0, 0.01, 0.05, 0.2]),
            duplicate=rng.choice([0.0, 0.02, 0.1]),
            max_delay=rng.choice([0.002, 0.02, 0.2]),
            partition_every=rng.choice([0.0, 1.0, 3.0]),
            crash_every=rng.choice([0.0, 1.0, 3.0]),
            crash_after_persist=rng.choice([0.0, 0.3]),
            truncate_tail=rng.choice([2, 10, 1000]),
            disk_delay=rng.choice([0.0005, 0.005, 0.05]),
            crash_mid_write=rng.choice([0.0, 0.3]),
            disk_at_once=rng.choice([0.0, 0.5, 1.0]),
        )

    @classmethod
    def none(cls) -> Faults:
        return cls(0.0, 0.0, 0.002, 0.0, 0.0, 0.0, 1000, 0.0005, 0.0, 0.0)
