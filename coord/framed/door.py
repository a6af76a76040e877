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
import logging
import ssl

from coord import trace
from coord.frames import FrameError, FrameTooLarge, frame, read_frame
from coord.listener import Listener
from coord.member.member import Member
from coord.session.admission import Admission, Refused
from coord.session.session import Session
from coord.session.tcp_caller import admission_key, connection_ids
from coord_api.wire import client_pb2 as pb

log = logging.getLogger(__name__)

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


class Connection:
    """One client's connection: its frames to its session and back."""

    def __init__(
        self,
        door: SessionPort,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
    ) -> None:
        self.member = door.member
        self.reader = reader
        self.writer = writer
        self.session = Session(door.member, connection_ids(writer, address), door.super_digest)
        self.session.on_send = self._flush
        self._taking = False  # the session is taking a frame's messages
        self._closed = False

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
        session = self.session
        rest = await session.start(first.messages)
        reading = asyncio.create_task(self._read(rest))
        try:
            while not self._closed:
                self._flush()
                if session.over or session.cut.is_set():
                    break
                await session.more()
        finally:
            reading.cancel()
            session.detach()
        if session.cut.is_set():
            log.info("session port: %s", session.unread().message)
            self._close()
        elif session.broken is not None:
            # As the Session stream ends with a status: the client reconnects.
            log.debug("session port: connection ends: %s", session.broken.message)
            self._close()

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

    def _flush(self) -> None:
        """Write what the session has to send, now: called as the session
        sends (from inside the member's apply for answers and events), so an
        answer leaves in the turn that made it. While a frame is being taken
        its answers wait for the rest of them."""
        if self._taking or self._closed:
            return
        session = self.session
        try:
            while (server_frame := session.take_frame()) is not None:
                self._write(server_frame)
        except Exception:  # a fault of this door's must not stop the apply that called it
            log.exception("session port: cannot answer its client; closing the connection")
            self._close()
            return
        limit = self.member.limits.max_unread_bytes
        if not self._closed and self.writer.transport.get_write_buffer_size() > limit:
            self.member.counters.unread_streams_cut += 1
            log.info("session port: the client did not read: over %d bytes waited for it", limit)
            self._close()

    def _write(self, server_frame: pb.ServerFrame) -> None:
        # A closed transport raises on write (uvloop's): an event may come
        # for a session whose client has just gone.
        if self.writer.transport.is_closing():
            return
        self.member.counters.client_frames_out += 1
        if trace.ON:
            self.session.mark_responses("write", server_frame)
        self.writer.write(frame(server_frame))
        if trace.ON:
            self.session.mark_responses("written", server_frame)

    def _close(self) -> None:
        """End the connection now; the session lives on."""
        self._closed = True
        self.session.stop_reading()
        self.session.input_done()
        self.writer.transport.abort()
