"""The session port: coord's own session protocol without gRPC. Each TCP
connection carries one session (coord/session/session.py) as the Session
stream carries it, its ClientFrames and ServerFrames length-prefixed
(coord_api/frames.py); clients learn the port from Coord.SessionPort.

Why a door of its own: a frame through gRPC costs a Python client and
member several hundred microseconds more than a TCP round trip (BENCHMARKS.md,
"Session 10"), which is most of a read's time one request at a time.

It guards what the gRPC door guards, as strictly: the client port's TLS
(with --tls-ca only clients with a certificate of that CA, whose subject
is their x509 id); --max-sessions and --max-sessions-per-ip counted with
the other doors' sessions from the moment a connection opens; a first
frame that is not a connect within CONNECT_TIMEOUT_S, a frame over
--max-request-bytes (not read) or one that does not decode ends the
connection with a `session_error` saying why; while more than the
transport's high-water mark waits for the client its next frame is not
read, and once more than --max-unread-bytes waits it is cut off (the
session lives on, as on the Session stream).
"""

from __future__ import annotations

import asyncio
import ssl

from coord import trace
from coord.frames import FrameError, FrameTooLarge, frame, read_frame
from coord.listener import Listener
from coord.member.member import Member
from coord.session.admission import Admission, Refused
from coord.session.session import Session
from coord.session.tcp_caller import admission_key, connection_ids
from coord.session.tcp_connection import TcpConnection
from coord_api.wire import client_pb2 as pb

CONNECT_TIMEOUT_S = 10.0  # a connection that sends no connect by then is closed


class SessionPort(Listener):
    def __init__(
        self,
        member: Member,
        admission: Admission,
        super_digest: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls, CONNECT_TIMEOUT_S)
        self.member = member
        self.admission = admission
        self.super_digest = super_digest

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")[0]
        try:
            with self.admission.stream(admission_key(address)):
                connection = Connection(self, reader, writer, address)
                await connection.run()
        except Refused as refused:
            refusal = pb.ServerMessage(session_error=refused.error)
            writer.write(frame(pb.ServerFrame(messages=[refusal])))
        except (asyncio.IncompleteReadError, OSError, TimeoutError):
            pass  # the client went away (or its TLS failed), or never said who it was


def _refusal(err: FrameError, limit: int) -> pb.Error:
    if isinstance(err, FrameTooLarge):
        return pb.Error(code=pb.LIMIT_EXCEEDED, message=f"{err} (--max-request-bytes {limit})")
    return pb.Error(code=pb.BAD_ARGUMENTS, message=str(err))


class Connection(TcpConnection):
    """One client's connection: its frames to its session and back."""

    def __init__(
        self,
        door: SessionPort,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
    ) -> None:
        self.reader = reader
        self._taking = False  # the session is taking a frame's messages
        session = Session(door.member, connection_ids(writer, address), door.super_digest)
        super().__init__(door.member, session, writer, "session port")

    async def run(self) -> None:
        first = await asyncio.wait_for(self._read_frame(), CONNECT_TIMEOUT_S)
        if first is None:
            return
        if not first.messages or first.messages[0].WhichOneof("kind") != "connect":
            self._refuse(
                pb.Error(
                    code=pb.BAD_ARGUMENTS, message="the first message of a session must be connect"
                )
            )
            return
        rest = await self.session.start(first.messages)
        await self.serve(self._read(rest))

    async def _read_frame(self) -> pb.ClientFrame | None:
        """The client's next frame; None (having told it why, and stopped the
        session's reading) when it is not one the session may take."""
        limit = self.member.limits.max_request_bytes
        try:
            client_frame = await read_frame(self.reader, pb.ClientFrame, limit)
        except FrameError as err:
            self._refuse(_refusal(err, limit))
            return None
        self.member.counters.client_frames_in += 1
        return client_frame

    async def _read(self, messages) -> None:
        """Hand the session the client's frames (after `messages`, the rest
        of the first) until it takes no more or the client stops sending."""
        session = self.session
        try:
            await self._take(messages)
            while session.reading:
                await self.writer.drain()  # the client reads what it was sent first
                client_frame = await self._read_frame()
                if client_frame is None:
                    break
                await self._take(client_frame.messages)
        except (asyncio.IncompleteReadError, OSError):
            pass  # the client went away, or its TLS failed
        session.input_done()

    async def _take(self, messages) -> None:
        """Hand the session one frame's messages; the answers they made at
        once (reads) go out together when it has taken them all."""
        self._taking = True
        try:
            await self.session.take(messages)
        finally:
            self._taking = False
        self._flush()

    def _refuse(self, error: pb.Error) -> None:
        """Tell the client why, and take nothing more from it."""
        self.session.end(pb.ServerMessage(session_error=error))
        self._flush()

    def _on_send(self) -> None:
        """Written at once, unless a frame is being taken: the answers it
        makes at once go together when it is taken. Should taking it wait
        (for room, or for the answers to be written), the serve loop writes
        them meanwhile."""
        if not self._taking:
            super()._on_send()

    def _write_frame(self, server_frame: pb.ServerFrame) -> None:
        if trace.ON:
            self.session.mark_responses("write", server_frame)
        self._write(frame(server_frame))
        if trace.ON:
            self.session.mark_responses("written", server_frame)
