"""The gRPC door of a client session: one Session stream carries one
session (coord/session/session.py, which knows no gRPC).

The door reads the client's frames and hands their messages to the
session; it writes each frame the session has to send; and it ends the
call as the session ends: quietly, or with a gRPC status and its reason
(guard.py). While the session takes no more, the stream is not read, so
HTTP/2 flow control holds the client back. The session's ids begin with
the connection's (callers.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence

import grpc

from coord import trace
from coord.member.member import Member
from coord.rpc import callers
from coord.rpc.callers import client_address
from coord.rpc.eager import Started
from coord.rpc.guard import Malformed, abort, unless_cut
from coord.session.admission import Admission, Refused
from coord.session.session import Session
from coord_api.wire import client_pb2 as pb


class SessionStream:
    def __init__(
        self,
        member: Member,
        context: grpc.aio.ServicerContext,
        admission: Admission,
        super_digest: str = "",
    ) -> None:
        self.member = member
        self.context = context
        self.admission = admission
        self.session = Session(member, callers.connection_ids(context), super_digest)
        self.session.on_send = self._write_now
        self._idle = False  # the writer waits for the session to send more
        self._taking = False  # the session is taking a frame's messages
        self._started: tuple[Started, pb.ServerFrame] | None = None  # by _write_now

    async def run(self) -> None:
        first = await self.context.read()
        if first is grpc.aio.EOF:
            return
        if isinstance(first, Malformed):
            await abort(self.context, first.error)
        if not first.messages or first.messages[0].WhichOneof("kind") != "connect":
            await abort(
                self.context,
                pb.Error(
                    code=pb.BAD_ARGUMENTS, message="the first message of a session must be connect"
                ),
            )
        self.member.counters.client_frames_in += 1
        try:
            with self.admission.stream(client_address(self.context)):
                await self._serve(first)
        except Refused as refused:
            self.session.end(pb.ServerMessage(session_error=refused.error))
            await self._write()

    async def _serve(self, first: pb.ClientFrame) -> None:
        session = self.session
        rest = await session.start(first.messages)
        reader = asyncio.create_task(self._read(rest))
        try:
            await unless_cut(self._write(), session.cut, self.context, session.unread)
        finally:
            reader.cancel()
            session.detach()

    async def _read(self, messages: Sequence[pb.ClientMessage]) -> None:
        """Hand the session the client's frames (after `messages`, the rest
        of the first) until it is done sending or the session takes no more."""
        session = self.session
        try:
            await self._take(messages)
            while session.reading:
                frame = await self.context.read()
                if frame is grpc.aio.EOF:
                    break
                if isinstance(frame, Malformed):
                    session.end(pb.ServerMessage(session_error=frame.error))
                    break
                self.member.counters.client_frames_in += 1
                await self._take(frame.messages)
        except grpc.RpcError:
            session.stop_reading()
        session.input_done()

    async def _take(self, messages: Sequence[pb.ClientMessage]) -> None:
        """Hand the session one frame's messages; the answers they made at
        once (reads) go out together when it has taken them all."""
        self._taking = True
        try:
            await self.session.take(messages)
        finally:
            self._taking = False
        self._write_now()

    async def _write(self) -> None:
        """Write what the session has to send, until it ends: what was
        started at once (`_write_now`), then what waits."""
        session = self.session
        while True:
            if self._started is not None:
                (started, frame), self._started = self._started, None
                await started
            elif (frame := session.take_frame()) is not None:
                await self._start(frame)
            elif session.over:
                break
            else:
                self._idle = True
                try:
                    await session.more()
                finally:
                    self._idle = False
                continue
            if trace.ON:
                session.mark_responses("written", frame)
        if session.broken is not None:
            await abort(self.context, session.broken)

    def _write_now(self) -> None:
        """Start writing what the session just queued in this turn, if the
        writer is idle, no other answer is awaited and no frame is being
        taken (its answers go together once it is): the writer task would
        start it a turn later, behind whatever else this turn queued (see
        eager.py). The writer finishes it. While answers are awaited (a
        client with many requests in flight), the writer gathers them into
        one frame instead: a frame costs gRPC far more than an answer."""
        if self._idle and not self._taking and self._started is None and self.session.answered_all:
            frame = self.session.take_frame()
            if frame is not None:
                self._started = (Started(self._start(frame)), frame)

    def _start(self, frame: pb.ServerFrame) -> Coroutine:
        self.member.counters.client_frames_out += 1
        if trace.ON:
            self.session.mark_responses("write", frame)
        return self.context.write(frame)
