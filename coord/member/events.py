"""What the replicated log tells the member above it. One interface, handed
to the log when it is made, instead of callbacks set from below: every
event that flows up is named here."""

from __future__ import annotations

from typing import Protocol

from coord.paxos import Role


class LogEvents(Protocol):
    def chosen(self, slot: int, value: bytes) -> None:
        """`slot` was chosen with `value`; called in slot order, once each."""

    def state_installed(self, slot: int) -> None:
        """A peer's snapshot replaced the applied state, as of `slot`."""

    def sessions_touched(self, session_ids: list[int]) -> None:
        """A follower heard from these sessions (told to the leader)."""

    def role_changed(self, role: Role, leader: int | None, previous: int | None) -> None:
        """Our role or the leader we follow changed (`previous`: the leader before)."""
