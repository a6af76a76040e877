"""Who may open a session here: at most --max-sessions on this member and
--max-sessions-per-ip from one client address (as ZooKeeper's
maxClientCnxns). Open session streams count, and so do the sessions opened
here by the unary OpenSession while they live; a reconnecting stream counts
again, as a new connection does in ZooKeeper. A unary Watch call holds one
watch with no session to count it: one address holds at most
--max-watches-per-session of them. Both doors count here, an address as
gRPC spells a peer without its port (`ipv4:127.0.0.1`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from coord.member.member import Member
from coord_api.wire import client_pb2 as pb


class Refused(Exception):
    """Over a session limit: `error` (LIMIT_EXCEEDED) says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.error = pb.Error(code=pb.LIMIT_EXCEEDED, message=message)


class Admission:
    def __init__(self, member: Member) -> None:
        self.member = member
        self._streams: Counter[str] = Counter()
        self._watch_calls: Counter[str] = Counter()
        self._unary: dict[int, str] = {}  # session id -> the address that opened it

    def _unary_alive(self) -> dict[int, str]:
        """The unary sessions opened here that still live (the others are dropped)."""
        sessions = self.member.tree.sessions
        self._unary = {sid: addr for sid, addr in self._unary.items() if sid in sessions}
        return self._unary

    def check(self, address: str) -> None:
        """Raise Refused if one more session from `address` is over a limit."""
        limits = self.member.limits
        unary = self._unary_alive()
        total = self._streams.total() + len(unary)
        if total >= limits.max_sessions:
            raise Refused(
                f"this member serves {total} sessions, its limit"
                f" (--max-sessions {limits.max_sessions}): try another member"
            )
        mine = self._streams[address] + sum(1 for a in unary.values() if a == address)
        if mine >= limits.max_sessions_per_ip:
            raise Refused(
                f"{address} has {mine} sessions here, its limit"
                f" (--max-sessions-per-ip {limits.max_sessions_per_ip})"
            )

    @contextmanager
    def stream(self, address: str) -> Iterator[None]:
        """Count one session stream from `address` while it is open (Refused if over)."""
        self.check(address)
        with _counted(self._streams, address):
            yield

    @contextmanager
    def watch_call(self, address: str) -> Iterator[None]:
        """Count one Watch call from `address` while it is open (Refused if over)."""
        limit = self.member.limits.max_watches_per_session
        if self._watch_calls[address] >= limit:
            raise Refused(
                f"{address} has {limit} Watch calls open here, its limit"
                f" (--max-watches-per-session {limit})"
            )
        with _counted(self._watch_calls, address):
            yield

    def opened(self, session_id: int, address: str) -> None:
        """A unary OpenSession from `address` opened `session_id`."""
        self._unary[session_id] = address


@contextmanager
def _counted(counter: Counter[str], key: str) -> Iterator[None]:
    counter[key] += 1
    try:
        yield
    finally:
        counter[key] -= 1
        if not counter[key]:
            del counter[key]
