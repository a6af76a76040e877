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
from collections.abc import Sequence

import grpc

from coord import trace
from coord.member.member import Member
from coord.rpc import callers
from coord.rpc.admission import Admission, Refused, client_address
from coord.rpc.guard import Malformed, abort, unless_cut
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
            await session.take(messages)
            while session.reading:
                frame = await self.context.read()
                if frame is grpc.aio.EOF:
                    break
                if isinstance(frame, Malformed):
                    session.end(pb.ServerMessage(session_error=frame.error))
                    break
                self.member.counters.client_frames_in += 1
                await session.take(frame.messages)
        except grpc.RpcError:
            session.stop_reading()
        session.input_done()

    async def _write(self) -> None:
        """Write what the session has to send, until it ends."""
        session = self.session
        while (frame := await session.outgoing()) is not None:
            self.member.counters.client_frames_out += 1
            if trace.ON:
                session.mark_responses("write", frame)
            await self.context.write(frame)
            if trace.ON:
                session.mark_responses("written", frame)
        if session.broken is not None:
            await abort(self.context, session.broken)
