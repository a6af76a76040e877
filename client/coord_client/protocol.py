"""The session protocol without I/O: what to send, and what each message received means.

Shared by the threaded client and the asyncio one. It assigns xids, keeps the
requests in flight and the registered watches, tracks the last zxid seen and
the session's phase, and turns each `ServerMessage` into outcomes (completions,
watch notifications, state changes, messages to send) for the I/O layer to
deliver. It has no sockets, threads or clocks: the I/O layer says when a
connection broke or the session timed out.

A broken connection loses nothing: requests in flight, and those made while
the session is suspended, wait for the next member and are sent to it in xid
order once it has taken the session (the server applies a write retried with
its xid once), and the watches held are listed in the reconnect so that the
member arms them again and reports what was missed. The credentials the
session proved (`auth`) ride in the first frame to every new member, right
behind the connect, so that they count for the watches it re-arms and for
every request sent again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from coord_api.paths import parent
from coord_api.wire import client_pb2 as pb
from coord_client import ops
from coord_client.events import EventType, KazooState, WatchedEvent
from coord_client.exceptions import (
    AuthFailedError,
    ConnectionClosedError,
    ConnectionLoss,
    CoordError,
    LimitExceededError,
    NotReadOnlyCallError,
    NotReadyError,
    SessionExpiredError,
    error_from_wire,
)
from coord_client.ops import Call, Watcher

PING = pb.ClientMessage(ping=pb.Ping())
MAX_REQUEST_BYTES = (1 << 20) + 1024  # a member's default --max-request-bytes


class Phase(Enum):
    CONNECTING = auto()  # no session yet
    CONNECTED = auto()
    SUSPENDED = auto()  # the session may live on; reconnecting
    CLOSING = auto()  # Close sent, Closed awaited
    CLOSED = auto()
    EXPIRED = auto()
    AUTH_FAILED = auto()  # the member refused a credential and ended the session


_LISTENER_STATES = {
    Phase.CONNECTING: KazooState.LOST,
    Phase.CONNECTED: KazooState.CONNECTED,
    Phase.SUSPENDED: KazooState.SUSPENDED,
    Phase.CLOSING: KazooState.CONNECTED,
    Phase.CLOSED: KazooState.LOST,
    Phase.EXPIRED: KazooState.LOST,
    Phase.AUTH_FAILED: KazooState.LOST,
}


@dataclass(slots=True)  # one per request: a frozen dataclass takes 4x as long to make
class Completion:
    """A request is answered: complete `handle` (the I/O layer's own object)."""

    handle: Any
    result: Any = None
    error: CoordError | None = None


@dataclass(frozen=True)
class Notification:
    """Run a watch callback with this event."""

    callback: Watcher
    event: WatchedEvent


@dataclass(frozen=True)
class StateChanged:
    """Tell the listeners."""

    state: KazooState


@dataclass(frozen=True)
class Send:
    """Put this message on the stream: a request that waited for the session to
    be up on a member again."""

    message: pb.ClientMessage


Outcome = Completion | Notification | StateChanged | Send

_EVENT_TYPES = {
    pb.CREATED: EventType.CREATED,
    pb.DELETED: EventType.DELETED,
    pb.CHANGED: EventType.CHANGED,
    pb.CHILD: EventType.CHILD,
}
_DATA_EVENTS = (EventType.CREATED, EventType.CHANGED, EventType.DELETED)
_CHILD_EVENTS = (EventType.CHILD, EventType.DELETED)
PERSISTENT_KINDS = (pb.PERSISTENT_WATCH, pb.PERSISTENT_RECURSIVE_WATCH)
# The kinds a data event consumes: `get` watches and `exists` watches, which a
# reconnecting client names apart (the member checks them differently).
_DATA_KINDS = (pb.DATA, pb.EXISTS)


def _lineage(path: str) -> list[str]:
    """`path` and all its ancestors up to the root."""
    line = [path]
    while path != "/":
        path = parent(path)
        line.append(path)
    return line


class Watches:
    """The local callbacks per (wire WatchKind, path). Several callbacks may
    share one server-side watch; each callback is kept once (as kazoo's sets)."""

    def __init__(self) -> None:
        self._table: dict[int, dict[str, dict[Watcher, None]]] = {
            kind: {} for kind in (*_DATA_KINDS, pb.CHILDREN, *PERSISTENT_KINDS)
        }

    def add(self, kind: int, path: str, callback: Watcher) -> None:
        self._table[kind].setdefault(path, {})[callback] = None

    def discard(self, kind: int, path: str, callback: Watcher) -> bool:
        """Forget one callback; True when it was there."""
        callbacks = self._table[kind].get(path, {})
        if callback not in callbacks:
            return False
        del callbacks[callback]
        if not callbacks:
            del self._table[kind][path]
        return True

    def has(self, kind: int, path: str) -> bool:
        return path in self._table[kind]

    def clear(self) -> None:
        for paths in self._table.values():
            paths.clear()

    def registrations(self) -> list[pb.WatchRegistration]:
        """Every server-side watch the callbacks need, for a member to arm again."""
        return [
            pb.WatchRegistration(path=path, kind=kind)
            for kind, paths in self._table.items()
            for path in paths
        ]

    def triggered(self, event_type: EventType, path: str) -> list[Watcher]:
        """The callbacks an event fires, ZooKeeper's way: one-shot watches are
        consumed; persistent ones stay; recursive ones see their whole subtree
        but no CHILD events (the created/deleted child reports itself)."""
        fired: list[Watcher] = []
        if event_type in _DATA_EVENTS:
            for kind in _DATA_KINDS:
                fired += self._table[kind].pop(path, {})
        if event_type in _CHILD_EVENTS:
            fired += self._table[pb.CHILDREN].pop(path, {})
        fired += self._table[pb.PERSISTENT_WATCH].get(path, {})
        if event_type is not EventType.CHILD:
            recursive = self._table[pb.PERSISTENT_RECURSIVE_WATCH]
            for ancestor in _lineage(path):
                fired += recursive.get(ancestor, {})
        return list(dict.fromkeys(fired))


class Protocol:
    """One session's protocol state, across the connections it goes through."""

    def __init__(self, timeout_ms: int, session_id: int = 0, password: bytes = b"") -> None:
        self.requested_timeout_ms = timeout_ms
        self.timeout_ms = timeout_ms  # the negotiated one once connected
        self.session_id = session_id
        self.password = password
        self.last_zxid = 0
        self.member_id = 0  # the member serving the session now, 0 when none
        self.max_request_bytes = MAX_REQUEST_BYTES  # as that member says
        self.phase = Phase.CONNECTING
        self.refusal: CoordError | None = None  # why a member ended the session, if one did
        self.watches = Watches()
        self._xid = 0
        self._pending: dict[int, tuple[Call, Any]] = {}
        # Requests up to this xid may have reached a member over a stream that broke.
        self._sent_through = 0
        # The credentials members accepted, to prove again on the next member.
        self._proven: dict[tuple[str, bytes], Call] = {}

    @property
    def state(self) -> KazooState:
        return _LISTENER_STATES[self.phase]

    @property
    def wants_connection(self) -> bool:
        """True while the I/O layer should (re)connect."""
        return self.phase in (Phase.CONNECTING, Phase.SUSPENDED)

    # ------------------------------------------------------------ sending

    def connect_message(self) -> pb.ClientMessage:
        """The first message of every stream: a new session, or this one resumed
        with the watches it holds."""
        return pb.ClientMessage(
            connect=pb.Connect(
                session_id=self.session_id,
                password=self.password,
                timeout_ms=self.requested_timeout_ms,
                last_zxid=self.last_zxid,
                watches=self.watches.registrations(),
            )
        )

    def opening(self) -> list[pb.ClientMessage]:
        """The first frame of every stream: the connect, then the credentials
        proven before (each under a new xid, its answer awaited by no one)."""
        self._pending = {
            xid: entry
            for xid, entry in self._pending.items()
            if entry[0].field != "auth" or entry[1] is not None
        }  # proofs sent with an earlier connect that went unanswered: sent again here
        messages = [self.connect_message()]
        for call in self._proven.values():
            self._xid += 1
            self._pending[self._xid] = (call, None)
            messages.append(_request(self._xid, call))
        return messages

    def submit(self, call: Call, handle: Any) -> pb.ClientMessage | None:
        """The message carrying `call`; `handle` comes back in its Completion.
        None while the session is suspended: the call waits for the next member
        (or fails when the session times out). Raises the session's error when
        no request can be made."""
        if self.phase not in (Phase.CONNECTED, Phase.SUSPENDED):
            raise self._unavailable()
        message = _request(self._xid + 1, call)
        if message.ByteSize() > self.max_request_bytes:
            # A member would refuse it unread and drop the stream: sent again
            # on every reconnect, it would never be answered.
            raise LimitExceededError(
                f"a request of {message.ByteSize()} bytes is over the member's limit"
                f" (--max-request-bytes {self.max_request_bytes})"
            )
        self._xid += 1
        self._pending[self._xid] = (call, handle)
        return message if self.phase is Phase.CONNECTED else None

    def close_message(self) -> pb.ClientMessage:
        """Close the session: requests already sent are still answered, new ones refused."""
        self.phase = Phase.CLOSING
        return pb.ClientMessage(close=pb.Close())

    def remove_watch(self, path: str, callback: Watcher) -> list[Call]:
        """Forget a persistent watch callback; the calls that drop server-side
        watches no callback needs any more."""
        return [
            ops.remove_watch(path, kind)
            for kind in PERSISTENT_KINDS
            if self.watches.discard(kind, path, callback) and not self.watches.has(kind, path)
        ]

    def _unavailable(self) -> CoordError:
        if self.phase is Phase.EXPIRED:
            return SessionExpiredError("the session has expired")
        if self.phase is Phase.AUTH_FAILED:
            return AuthFailedError("authentication failed; the session is closed")
        if self.phase in (Phase.CLOSING, Phase.CLOSED):
            return ConnectionClosedError("the client is stopped")
        return ConnectionLoss("not connected to any member")

    # ---------------------------------------------------------- receiving

    def receive(self, message: pb.ServerMessage) -> list[Outcome]:
        kind = message.WhichOneof("kind")
        if kind == "response":
            return self._on_response(message.response)
        if kind == "event":
            return self._on_event(message.event)
        if kind == "pong":
            self._seen(message.pong.zxid)
            return []
        if kind == "connected":
            return self._on_connected(message.connected)
        if kind == "closed":
            return self._end(Phase.CLOSED, ConnectionClosedError("the session is closed"))
        if kind == "session_error":
            return self._on_session_error(message.session_error)
        return []

    def connection_lost(self) -> list[Outcome]:
        """The stream broke: requests in flight wait to be sent to the next member."""
        self.member_id = 0
        if self.phase is not Phase.CONNECTED:
            return []
        self._sent_through = self._xid
        return self._move(Phase.SUSPENDED)

    def expire(self) -> list[Outcome]:
        """No member answered for the whole session timeout: count the session as
        gone. Requests still waiting have unknown outcomes."""
        return self._end(
            Phase.EXPIRED, ConnectionLoss("no member answered within the session timeout")
        )

    def abandon(self) -> list[Outcome]:
        """The client stops without (or after) a clean close."""
        return self._end(Phase.CLOSED, ConnectionClosedError("the client is stopped"))

    def _seen(self, zxid: int) -> None:
        self.last_zxid = max(self.last_zxid, zxid)

    def _on_connected(self, connected: pb.Connected) -> list[Outcome]:
        """The session is up on this member: what waited for it goes out, in xid order."""
        if not self.wants_connection:
            return []
        self.session_id = connected.session_id
        self.password = connected.password
        self.timeout_ms = connected.timeout_ms
        self.member_id = connected.member_id
        self.max_request_bytes = connected.max_request_bytes or MAX_REQUEST_BYTES
        self._seen(connected.zxid)
        waiting = [
            Send(_request(xid, call))
            for xid, (call, handle) in self._pending.items()
            if handle is not None or call.field != "auth"  # proofs went with the connect
        ]
        return self._move(Phase.CONNECTED) + waiting

    def _on_response(self, response: pb.Response) -> list[Outcome]:
        self._seen(response.zxid)
        entry = self._pending.pop(response.xid, None)
        if entry is None:
            return []
        call, handle = entry
        field = response.WhichOneof("result")
        if field == "error":
            error = error_from_wire(response.error)
            if isinstance(error, NotReadOnlyCallError) and response.xid <= self._sent_through:
                # Refused here, but its sending over the broken stream may apply.
                error = ConnectionLoss(f"{error}; it was sent before and may apply from then")
            return [Completion(handle, error=error)]
        if field != call.field:
            return [Completion(handle, error=CoordError(f"{field} answered to {call.field}"))]
        result = call.decode(getattr(response, field))
        if field == "auth":
            request = call.message
            self._proven[(request.scheme, request.credential)] = call
        if call.watch is not None:
            kind, callback = call.watch
            if kind == pb.EXISTS and result is not None:
                kind = pb.DATA  # the node exists: ZooKeeper's data watch
            self.watches.add(kind, call.path, callback)
        return [Completion(handle, result)]

    def _on_event(self, event: pb.WatchEvent) -> list[Outcome]:
        self._seen(event.zxid)
        event_type = _EVENT_TYPES.get(event.type)
        if event_type is None:
            return []
        watched = WatchedEvent(event_type, KazooState.CONNECTED, event.path, event.zxid)
        return [Notification(fn, watched) for fn in self.watches.triggered(event_type, event.path)]

    def _on_session_error(self, error: pb.Error) -> list[Outcome]:
        exc = error_from_wire(error)
        if isinstance(exc, NotReadyError):
            return []  # this member is behind us; the stream ends and another is tried
        if isinstance(exc, LimitExceededError) and self.session_id:
            return []  # this member has its fill of sessions; another is tried
        self.refusal = exc
        if isinstance(exc, AuthFailedError):
            return self._end(Phase.AUTH_FAILED, exc)
        return self._end(Phase.EXPIRED, exc)

    def _end(self, phase: Phase, error: CoordError) -> list[Outcome]:
        self.member_id = 0
        self.watches.clear()
        return self._move(phase) + self._fail_pending(error)

    def _move(self, phase: Phase) -> list[Outcome]:
        before = self.state
        self.phase = phase
        return [StateChanged(self.state)] if self.state is not before else []

    def _fail_pending(self, error: CoordError) -> list[Outcome]:
        failed: list[Outcome] = [
            Completion(handle, error=copy.copy(error)) for _, handle in self._pending.values()
        ]
        self._pending.clear()
        return failed


def _request(xid: int, call: Call) -> pb.ClientMessage:
    """The same message for `call` every time it is sent: the xid makes a retry safe.
    Filled in place: nested constructors would copy the request twice."""
    message = pb.ClientMessage()
    request = message.request
    request.xid = xid
    getattr(request, call.field).CopyFrom(call.message)
    return message
