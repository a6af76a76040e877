"""A session carried by a TCP connection of the member's own (the session
port, ZooKeeper's door): what the session sends is written in the turn
that made it (from inside the member's apply, for answers and events: at
once, or, while more answers are owed, as one frame at the turn's end), the
connection ends when the session is over, and
a client that leaves more than --max-unread-bytes unread is cut off (its
session lives on). Each door brings its own frames (`_write_frame`)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine

from coord.member.member import Member
from coord.session.session import Session
from coord_api.wire import client_pb2 as pb

log = logging.getLogger(__name__)

GATHER_MAX_BYTES = 64 << 10  # what may wait for the turn's end before it is written


class TcpConnection(ABC):
    def __init__(
        self, member: Member, session: Session, writer: asyncio.StreamWriter, door: str
    ) -> None:
        self.member = member
        self.session = session
        self.writer = writer
        self.door = door  # its name in the log
        self._closed = False
        session.on_send = self._on_send
        session.on_full = self._flush

    async def serve(self, reading: Coroutine) -> None:
        """Write what the session sends while `reading` hands it the client's
        frames, until the session is over or cut off or the connection is
        closed; a cut-off connection is dropped with what waits in it."""
        session = self.session
        task = asyncio.create_task(reading)
        try:
            while not self._closed:
                self._flush()
                if session.over or session.cut.is_set():
                    break
                await session.more()
        finally:
            task.cancel()
            session.detach()
        if session.cut.is_set():
            log.info("%s: %s", self.door, session.unread().message)
            self._close()
        elif session.broken is not None:  # the client reconnects, as after a broken stream
            log.debug("%s: connection ends: %s", self.door, session.broken.message)

    def _on_send(self) -> None:
        """The session queued a message: written at once if no other request
        of the client's waits for its answer (one request at a time, an
        event to an idle session). While some do (a pipelining client, whose
        answers a busy apply makes many at a time), what the turn sends
        waits for the serve loop, which the send woke, and goes as one frame
        at the turn's end, unless GATHER_MAX_BYTES, or half of
        --max-unread-bytes (as while a frame is taken), wait already."""
        session = self.session
        bound = min(GATHER_MAX_BYTES, self.member.limits.max_unread_bytes // 2)
        if session.answered_all or session.waiting_bytes >= bound:
            self._flush()

    def _flush(self) -> None:
        """Write what the session has to send, now."""
        if self._closed:
            return
        session = self.session
        try:
            while (frame := session.take_frame()) is not None:
                self._write_frame(frame)
        except Exception:  # a fault of this door's must not stop the apply that called it
            log.exception("%s: cannot answer its client; closing the connection", self.door)
            self._close()
            return
        limit = self.member.limits.max_unread_bytes
        if not self._closed and self.writer.transport.get_write_buffer_size() > limit:
            log.info("%s: the client did not read: over %d bytes waited for it", self.door, limit)
            self.member.counters.unread_streams_cut += 1
            self._close()

    @abstractmethod
    def _write_frame(self, frame: pb.ServerFrame) -> None:
        """Write one frame of the session's messages, in the door's encoding."""

    def _write(self, data: bytes) -> None:
        # A closed transport raises on write (uvloop's): an event may come
        # for a session whose client has just gone.
        if data and not self._closed and not self.writer.transport.is_closing():
            self.member.counters.client_frames_out += 1
            self.writer.write(data)

    def _close(self) -> None:
        """End the connection now; the session lives on."""
        self._closed = True
        self.session.stop_reading()
        self.session.input_done()
        self.writer.transport.abort()
