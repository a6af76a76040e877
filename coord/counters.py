"""What a member's session streams and apply loop have done since it
started, for `coordctl status` and scripts/bench: how many requests share a
frame, how many commands share a log slot. Plain integers, so counting costs
next to nothing; the log counts its peer frames and the storage its syncs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    requests: int = 0
    client_frames_in: int = 0
    client_frames_out: int = 0
    slots_applied: int = 0
    commands_applied: int = 0
    most_in_flight: int = 0  # the most requests one session stream held unanswered
    unread_streams_cut: int = 0  # streams cut off: their client did not read
