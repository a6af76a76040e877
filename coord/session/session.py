"""One client session on one connection: requests in; responses and events
out, in order. The door that carries it (coord/rpc/session_stream.py, the
gRPC stream) reads frames into it and writes out what it has to send.

A session's requests complete in the order they were sent, as on a
ZooKeeper connection: writes are proposed at once (many in flight), and a
read runs when every request before it has completed, so it sees the
session's own writes. Everything bound for the client goes through one
outbox; the door sends whatever has gathered as one frame.

One client cannot make the member hold much for it: past
--max-outstanding-per-session requests unanswered, or half of
--max-unread-bytes of answers not yet taken by the door, the session takes
no more (`take` waits, so the door reads nothing more: the transport's flow
control then holds the client back, and no one else); and once more than
--max-unread-bytes wait in the outbox anyway (events, which cannot be held
back) for a client that does not read, `cut` is set: the door ends the
connection with `unread()` (the session lives on; its client reconnects,
and its watches with it).

The session holds its caller's ids (see credentials.py). An ``auth``
request takes effect when it arrives, so it counts for every request sent
after it; a write carries the ids it arrived with in its log command, and a
read is checked with them.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coord import trace
from coord.acl import Ids
from coord.local_sessions import LocalSession
from coord.member.member import Member
from coord.session import credentials, ops
from coord.tree import Applied, TreeError
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

CATCH_UP_TIMEOUT_S = 3.0
SYNC_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 1 << 20


@dataclass(slots=True)
class _InFlight:
    """A request waiting for its turn to answer."""

    xid: int
    kind: str
    op: object
    # A write's Applied, or a sync's error (None: synced); reads have none:
    # they run when they reach the head.
    future: asyncio.Future | None
    ids: Ids = ()  # a read's: the caller's at arrival


def _error(code: int, message: str) -> pb.Error:
    return pb.Error(code=code, message=message)


class Session:
    """The door's side of it: `start` with the first frame's messages,
    `take` each later frame's, `input_done` when the client sent its last;
    meanwhile send each frame `take_frame` gives, waiting for `more` while
    there is none, until `over` (then end the connection with `broken`, if
    set), and end it with `unread()` once `cut` is set; `detach` when the
    connection is gone."""

    def __init__(self, member: Member, ids: Ids, super_digest: str = "") -> None:
        self.member = member
        self.super_digest = super_digest
        self.ids = ids  # the connection's, to begin with
        self._auth_wire = credentials.to_wire(self.ids)  # as write commands carry them
        self.local: LocalSession | None = None
        self._outbox: list[pb.ServerMessage] = []
        self._outbox_bytes = 0
        self._wakeup = asyncio.Event()
        self.cut = asyncio.Event()  # the client does not read: end the connection now
        self._in_flight: deque[_InFlight] = deque()
        self._room = asyncio.Event()  # fewer requests in flight than the limit
        self._taken = asyncio.Event()  # the door took the outbox
        self._ending = False
        self._refused_auth = False  # an auth failed: read no more, end after its answer
        self._input_done = False
        self.broken: pb.Error | None = None  # why the connection must end (connection loss)
        self._last_write_xid = 0  # the session's previous write on this connection
        # Called after each message queued to be sent (the door may start
        # writing it at once).
        self.on_send: Callable[[], None] | None = None
        # Called before a message that would take what waits over
        # --max-unread-bytes: a door whose connection buffers behind the
        # outbox (a TCP door's) writes what waits there, so that only a
        # client that does not read is cut off, not one whose answers
        # waited to go together.
        self.on_full: Callable[[], None] | None = None

    def send(self, message: pb.ServerMessage) -> None:
        if self.cut.is_set():
            return  # the connection is being cut off; the client learns it on reconnect
        size = message.ByteSize()
        limit = self.member.limits.max_unread_bytes
        if self._outbox and self._outbox_bytes + size > limit and self.on_full is not None:
            self.on_full()
        self._outbox.append(message)
        self._outbox_bytes += size
        if self._outbox_bytes > limit and len(self._outbox) > 1:
            # Nothing more is read or answered: the client resends what it
            # is owed on its next connection.
            self._outbox = []
            self._in_flight.clear()
            self.stop_reading()
            self.cut.set()
        self._wakeup.set()
        if self.on_send is not None:
            self.on_send()

    def unread(self) -> pb.Error:
        """Why the connection was cut off (once `cut` is set)."""
        limit = self.member.limits.max_unread_bytes
        self.member.counters.unread_streams_cut += 1
        return _error(
            pb.LIMIT_EXCEEDED,
            f"the client did not read: over {limit} bytes waited for it"
            " (--max-unread-bytes); its session lives on",
        )

    def end(self, message: pb.ServerMessage) -> None:
        """Send a last message, then end the connection."""
        self.send(message)
        self.stop_reading()

    def stop_reading(self) -> None:
        """Take no more; a `take` waiting for room stops waiting."""
        self._ending = True
        self._room.set()
        self._taken.set()

    def _end_session(self, message: pb.ServerMessage) -> None:
        """The session ended: nothing more is answered on this connection."""
        self._in_flight.clear()
        self.end(message)

    @property
    def reading(self) -> bool:
        """Whether the door should read the client's next frame."""
        return not self._ending and not self._refused_auth

    def input_done(self) -> None:
        """The client sent its last frame (or its connection failed): what
        it sent is answered in full before the connection ends."""
        self._input_done = True
        self._wakeup.set()

    def detach(self) -> None:
        """The connection is gone: the session is no longer served here."""
        if self.local is not None:
            self.member.detach(self.local, self.send)

    # ------------------------------------------------------------- frames

    async def start(self, messages: Sequence[pb.ClientMessage]) -> Sequence[pb.ClientMessage]:
        """Handle the first frame's connect (`messages[0]`), and the auths
        sent with it; return the rest, for the door to `take`."""
        connect = messages[0].connect
        await self._connect(connect)
        rest = messages[1:]
        # Credentials sent with the connect count for the watches it re-arms
        # (a ZooKeeper client sends its auth before its SetWatches).
        leading = 0
        while leading < len(rest) and _is_auth(rest[leading]):
            leading += 1
        if not self._ending:
            self._handle_all(rest[:leading])
        if not self._ending:
            self._rearm(connect)
        return rest[leading:]

    def _handle_all(self, messages: Sequence[pb.ClientMessage]) -> None:
        for message in messages:
            if self._ending or self._refused_auth:
                return
            self._handle(message)

    async def take(self, messages: Sequence[pb.ClientMessage]) -> None:
        """Handle `messages`, waiting (taking nothing more) while the
        session has its limit of requests in flight."""
        limits = self.member.limits
        for message in messages:
            while len(self._in_flight) >= limits.max_outstanding_per_session and not self._ending:
                self._room.clear()
                await self._room.wait()
            while self._outbox_bytes > limits.max_unread_bytes // 2 and not self._ending:
                self._taken.clear()
                await self._taken.wait()
            if self._ending or self._refused_auth:
                return
            self._handle(message)

    @property
    def waiting_bytes(self) -> int:
        """The size of what waits to be sent."""
        return self._outbox_bytes

    def take_frame(self) -> pb.ServerFrame | None:
        """What waits to be sent, as one frame; None if nothing does."""
        return self._next_frame() if self._outbox else None

    async def more(self) -> None:
        """Until more is to be sent, or the connection is to end."""
        await self._wakeup.wait()
        self._wakeup.clear()

    @property
    def answered_all(self) -> bool:
        """No request of the client's waits for its answer here."""
        return not self._in_flight

    @property
    def over(self) -> bool:
        """Nothing more will be sent: end the connection (with `broken`, if set)."""
        if self._outbox:
            return False
        finished = self._input_done and not self._in_flight
        return self.broken is not None or self._ending or finished

    def mark_responses(self, stage: str, frame: pb.ServerFrame) -> None:
        """A trace mark of `stage` for each response in `frame`."""
        for message in frame.messages:
            if message.HasField("response"):
                trace.mark(stage, 0, self.local.session_id, message.response.xid)

    def _next_frame(self) -> pb.ServerFrame:
        """What waits, up to MAX_FRAME_BYTES (one message at least), as one
        frame: a client with gRPC's default 4 MiB receive limit takes it."""
        size = count = 0
        for message in self._outbox:
            message_size = message.ByteSize()
            if count and size + message_size > MAX_FRAME_BYTES:
                break
            size += message_size
            count += 1
        frame = pb.ServerFrame(messages=self._outbox[:count])
        del self._outbox[:count]
        self._outbox_bytes = max(self._outbox_bytes - size, 0)
        if self._outbox:
            self._wakeup.set()
        self._taken.set()
        return frame

    def answer(self, kind: str, result: pb.Error | pb.MultiResponse) -> None:
        """Answer a request the door answered itself (one it refused, say)
        with `result` as a `kind` response, in its turn after those before it."""
        self._enqueue(_InFlight(0, kind, None, _done(Applied(result, []))))

    def rearm(self, last_zxid: int, watches: Sequence[pb.WatchRegistration]) -> None:
        """The watches a client holds, sent after it connected (ZooKeeper's
        SetWatches), as `start` re-arms those sent with the connect."""
        self._rearm(pb.Connect(last_zxid=last_zxid, watches=watches))

    # ----------------------------------------------------------- handshake

    async def _connect(self, connect: pb.Connect) -> None:
        member = self.member
        if connect.timeout_ms < 0:
            self.end(pb.ServerMessage(session_error=_error(pb.BAD_ARGUMENTS, "negative timeout")))
            return
        if not await member.caught_up(connect.last_zxid, CATCH_UP_TIMEOUT_S):
            message = f"member has applied zxid {member.tree.zxid}, client saw {connect.last_zxid}"
            self.end(pb.ServerMessage(session_error=_error(pb.NOT_READY, message)))
            return
        if connect.session_id == 0:
            timeout_ms = member.limits.negotiate(connect.timeout_ms)
            applied = await member.submit(
                log_pb2.Command(
                    open_session=log_pb2.OpenSession(timeout_ms=timeout_ms, password=os.urandom(16))
                )
            )
            if not applied.ok:  # not opened here (nor known to be): the client tries another
                message = applied.result.message
                self.end(pb.ServerMessage(session_error=_error(pb.NOT_READY, message)))
                return
            opened = applied.result
            session_id, password = opened.session_id, opened.password
        else:
            session = member.tree.sessions.get(connect.session_id)
            if session is None or session.password != connect.password:
                message = f"session 0x{connect.session_id:x} has expired"
                self.end(pb.ServerMessage(session_error=_error(pb.SESSION_EXPIRED, message)))
                return
            session_id, password = session.session_id, session.password
            timeout_ms = session.timeout_ms
        self.local = member.attach(session_id, timeout_ms, self.send, self._end_session)
        self.local.ids = self.ids
        self.send(
            pb.ServerMessage(
                connected=pb.Connected(
                    session_id=session_id,
                    password=password,
                    timeout_ms=timeout_ms,
                    zxid=member.tree.zxid,
                    member_id=member.member_id,
                    max_request_bytes=member.limits.max_request_bytes,
                )
            )
        )

    def _rearm(self, connect: pb.Connect) -> None:
        """A reconnecting client says which watches it still holds: those,
        and only those, are armed here (no one-shot watch may fire twice)."""
        member = self.member
        member.watches.remove_watcher(self.local)
        try:
            missed = member.watches.rearm(
                self.local, connect.watches, connect.last_zxid, member.tree
            )
        except TreeError as err:  # more than the limit: no client of ours holds them
            member.watches.remove_watcher(self.local)
            self.end(pb.ServerMessage(session_error=err.to_wire()))
            return
        # Not counted against --max-unread-bytes: what a connection cut off for
        # not reading had waiting comes back here, over the limit by
        # construction, and would cut the new one off too. The history
        # bounds it.
        self._outbox.extend(pb.ServerMessage(event=event) for event in missed)
        self._wakeup.set()

    # ------------------------------------------------------------ requests

    def _handle(self, message: pb.ClientMessage) -> None:
        member = self.member
        member.touch(self.local.session_id)
        kind = message.WhichOneof("kind")
        if kind == "request":
            self._request(message.request)
        elif kind == "ping":
            self.send(pb.ServerMessage(pong=pb.Pong(zxid=member.tree.zxid)))
        elif kind == "close":
            close = log_pb2.Command(
                session_id=self.local.session_id, close_session=log_pb2.CloseSession()
            )
            self._enqueue(_InFlight(0, "close", None, member.submit(close)))
        else:
            error = _error(pb.BAD_ARGUMENTS, f"unexpected message {kind!r} in a session")
            self.end(pb.ServerMessage(session_error=error))

    def _request(self, request: pb.Request) -> None:
        self.member.counters.requests += 1
        kind = request.WhichOneof("op")
        op = getattr(request, kind) if kind else None
        future = None
        refusal = self._refusal(kind, op, request.xid) if kind in ops.WRITES else None
        if kind == "auth":
            future = _done(Applied(self._authenticate(op), []))
        elif refusal is not None:
            future = _done(Applied(refusal, []))
        elif kind in ops.WRITES:
            if trace.ON:
                trace.mark("receive", 0, self.local.session_id, request.xid)
            command = ops.command(
                kind, op, self.local.session_id, request.xid, auth=self._auth_wire
            )
            if request.xid > 0:  # only writes with an xid take part in exactly-once
                command.prev_xid = self._last_write_xid
                self._last_write_xid = request.xid
            future = self.member.submit(command, on_applied=self._pump)
        elif kind == "sync":
            future = asyncio.ensure_future(self.member.sync(SYNC_TIMEOUT_S))
        self._enqueue(_InFlight(request.xid, kind, op, future, self.ids))

    def _authenticate(self, request: pb.AuthRequest) -> pb.AuthResponse | pb.Error:
        """Add a credential's ids now (ZooKeeper's addauth). One that fails
        is answered, then ends the connection: nothing sent after it is read."""
        try:
            self.ids = credentials.add_credential(
                self.ids, request.scheme, request.credential, self.super_digest
            )
        except credentials.AuthFailed as err:
            self._refused_auth = True
            return _error(pb.AUTH_FAILED, str(err))
        self._auth_wire = credentials.to_wire(self.ids)
        self.local.ids = self.ids
        return pb.AuthResponse()

    def _refusal(self, kind: str, op, xid: int) -> pb.Error | None:
        """Why a write is refused before it costs a log entry, if it is."""
        if 0 < xid <= self._last_write_xid:
            return _error(pb.BAD_ARGUMENTS, f"xid {xid} does not follow the last write's")
        return self.member.write_refusal() or ops.precheck(kind, op, self.member.limits)

    def _enqueue(self, item: _InFlight) -> None:
        self._in_flight.append(item)
        counters = self.member.counters
        counters.most_in_flight = max(counters.most_in_flight, len(self._in_flight))
        if item.future is not None:
            item.future.add_done_callback(lambda _: self._pump())
        self._pump()

    def _pump(self) -> None:
        """Answer, in order, every request at the head that can be answered."""
        self._room.set()
        while self._in_flight:
            head = self._in_flight[0]
            if head.future is not None and not head.future.done():
                return
            self._in_flight.popleft()
            if head.kind == "close":
                self.end(pb.ServerMessage(closed=pb.Closed()))
                return
            if _lost_write(head):
                # A write of this session was not applied, so the writes sent
                # after it on this connection cannot follow it. Drop the connection:
                # the client reconnects and sends its pending writes again, in
                # order, with their xids (each applies once).
                self._in_flight.clear()
                self.broken = _error(pb.CONNECTION_LOSS, head.future.result().result.message)
                self._ending = True
                self._wakeup.set()
                return
            message = pb.ServerMessage()
            self._answer(head, message.response)
            if trace.ON and head.kind in ops.WRITES:
                trace.mark("respond", 0, self.local.session_id, head.xid)
            self.send(message)
            if head.kind == "auth" and message.response.HasField("error"):
                self._in_flight.clear()
                self.end(pb.ServerMessage(session_error=message.response.error))
                return

    def _answer(self, item: _InFlight, response: pb.Response) -> None:
        """Fill in the answer to `item` (in place: building it apart and
        wrapping it would copy it)."""
        member = self.member
        response.xid = item.xid
        if item.future is not None and item.future.cancelled():
            response.error.CopyFrom(_error(pb.CONNECTION_LOSS, "member stopping"))
        elif item.future is not None and item.kind != "sync":
            _fill(response, item.kind, item.future.result().result)
        elif item.future is not None and item.future.result() is not None:
            response.error.CopyFrom(item.future.result())  # sync could not confirm
        elif item.kind in ops.READS:
            try:
                result = ops.read(
                    member.tree, member.watches, item.kind, item.op, self.local, item.ids
                )
            except TreeError as err:
                result = err.to_wire()
            _fill(response, item.kind, result)
        else:
            response.error.CopyFrom(_error(pb.BAD_ARGUMENTS, "request has no known operation"))
        response.zxid = member.tree.zxid


def _done(result) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(result)
    return future


def _is_auth(message: pb.ClientMessage) -> bool:
    return message.WhichOneof("kind") == "request" and message.request.WhichOneof("op") == "auth"


def _lost_write(item: _InFlight) -> bool:
    """A write that ended in connection loss: not applied, or not known to be."""
    if item.kind not in ops.WRITES or item.future is None or item.future.cancelled():
        return False
    result = item.future.result().result
    return isinstance(result, pb.Error) and result.code == pb.CONNECTION_LOSS


def _fill(response: pb.Response, kind: str, result) -> None:
    if isinstance(result, pb.Error):
        response.error.CopyFrom(result)
    else:
        getattr(response, kind).CopyFrom(result)
