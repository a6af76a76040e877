"""What one client may ask of this member: the `coord-server` flags of the
same names, gathered in one value the doors consult."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one client may ask of this member (the flags of the same names).
    Those on a request's shape are decided at the door, before the request
    is logged, so members with different flags never disagree on a logged
    command (the tree's own caps are constants, see tree.py)."""

    min_session_timeout_ms: int = 2000
    max_session_timeout_ms: int = 60000
    max_data_bytes: int = 1 << 20
    max_request_bytes: int = (1 << 20) + 1024  # as ZooKeeper's jute.maxbuffer
    max_sessions: int = 10_000
    max_sessions_per_ip: int = 60  # as ZooKeeper's maxClientCnxns
    max_outstanding_per_session: int = 1000
    max_unread_bytes: int = 8 << 20
    max_watches_per_session: int = 10_000
    max_multi_ops: int = 1000
    max_path_bytes: int = 4096
    max_path_depth: int = 128

    def negotiate(self, asked_ms: int) -> int:
        return max(self.min_session_timeout_ms, min(self.max_session_timeout_ms, asked_ms))
