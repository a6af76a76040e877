"""Sessions as one member sees them: liveness and where events go.

The tree holds which sessions exist and what they own; this module holds
what is local and volatile: when each session was last heard from, and the
stream (if any) a session is attached to here. Heartbeats are not
replicated; the leader alone proposes expiry, through the log, for a session
silent past its timeout. A member that starts (or becomes leader) gives
every session a fresh timeout before expiring any.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from coord_api.wire import client_pb2 as pb

Send = Callable[[pb.ServerMessage], None]


@dataclass(eq=False)
class LocalSession:
    """A session attached to this member: its events go to its stream."""

    session_id: int
    timeout_ms: int
    send: Send | None = None
    end: Send | None = None  # sends a last message, then ends the stream
    # The ids its stream's caller has proven: only events of nodes they may
    # READ are delivered.
    ids: tuple[tuple[str, str], ...] = ()

    def deliver(self, event: pb.WatchEvent) -> None:
        if self.send is not None:
            self.send(pb.ServerMessage(event=event))


@dataclass
class SessionTracker:
    """When each session was last heard from, and which ones are past due."""

    clock: Callable[[], float] = time.monotonic
    _timeouts: dict[int, float] = field(default_factory=dict)
    _last_heard: dict[int, float] = field(default_factory=dict)
    _expiring: set[int] = field(default_factory=set)

    def track(self, session_id: int, timeout_ms: int) -> None:
        """Start the clock of a session: opened, or found at start-up."""
        self._timeouts[session_id] = timeout_ms / 1000
        self._last_heard[session_id] = self.clock()

    def touch(self, session_id: int) -> None:
        if session_id in self._last_heard:
            self._last_heard[session_id] = self.clock()

    def forget(self, session_id: int) -> None:
        self._timeouts.pop(session_id, None)
        self._last_heard.pop(session_id, None)
        self._expiring.discard(session_id)

    def silent(self, session_id: int) -> bool:
        """Not heard from for longer than its timeout."""
        heard = self._last_heard.get(session_id)
        return heard is not None and self.clock() - heard > self._timeouts[session_id]

    def due(self) -> list[int]:
        """Sessions silent past their timeout, each reported once."""
        due = [
            session_id
            for session_id in self._last_heard
            if session_id not in self._expiring and self.silent(session_id)
        ]
        self._expiring.update(due)
        return due

    def retry_expiry(self, session_id: int) -> None:
        """An expiry proposal did not take effect: report the session again."""
        self._expiring.discard(session_id)

    def __len__(self) -> int:
        return len(self._last_heard)
