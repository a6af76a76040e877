"""The session over a member's session port (Coord.SessionPort): the frames
of the Session stream, length-prefixed (coord_api/frames.py) on a TCP
connection of their own, TLS as the client port's.

Why: each frame through gRPC costs a Python client and member several
hundred microseconds more than a TCP round trip, most of a read's time
one request at a time (BENCHMARKS.md, "Session 10"). The outbox and its
pacing are the gRPC stream's (stream.py); a sender thread writes its frames
(or a caller its own request, when nothing else waits) and the session
thread reads. With TLS both go through one `ssl.SSLObject`
(an SSL connection is not to be used by two threads at once): each thread
holds its lock only to encrypt or decrypt, never while it waits on the
socket, so a sender blocked on a full socket never stops the reader.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator

from google.protobuf.message import DecodeError

from coord_api.frames import LENGTH, frame
from coord_api.wire import client_pb2 as pb
from coord_client.stream import SessionStream
from coord_client.tls import ClientTLS, split_address

log = logging.getLogger("coord_client")

MAX_SERVER_FRAME_BYTES = 64 << 20  # as a gRPC channel's receive limit (channel.py)
DIRECT_MAX_BYTES = 16 << 10  # a request written by its caller: within any socket's buffer
READ_BYTES = 1 << 16


def connect(address: str, port: int, tls: ClientTLS | None, timeout: float) -> Wire | None:
    """A connection to `port` on the host of `address` (TLS with `tls`), or
    None when it cannot be made within `timeout` seconds."""
    host, _ = split_address(address)
    try:
        sock = socket.create_connection((host, port), timeout)
    except OSError as err:
        log.debug("no connection to the session port %s:%d: %s", host, port, err)
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        wire = Wire(sock) if tls is None else TLSWire(sock, tls.ssl_context(), host)
    except (OSError, ssl.SSLError) as err:
        log.debug("TLS with the session port %s:%d failed: %s", host, port, err)
        sock.close()
        return None
    sock.settimeout(None)
    return wire


class Wire:
    """Bytes each way on a connected socket: one thread at a time sends
    (the sender, or a caller writing its request itself), one receives."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._sending = threading.Lock()  # whole frames, one after another

    def send(self, data: bytes) -> None:
        with self._sending:
            self.sock.sendall(data)

    def receive(self) -> bytes:
        """What came (b"" at the end)."""
        return self.sock.recv(READ_BYTES)

    def shut(self, how: int = socket.SHUT_RDWR) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()


class TLSWire(Wire):
    """The same through TLS: the handshake done here (under the socket's
    timeout), then records made and opened under a lock, the socket's
    waits outside it."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, host: str) -> None:
        super().__init__(sock)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=host)
        self._lock = threading.Lock()  # the SSLObject's; records leave in the order made
        self._handshake()

    def _handshake(self) -> None:
        while not self._handshake_step():
            self.sock.sendall(self._outgoing.read())
            received = self.sock.recv(READ_BYTES)
            if not received:
                raise ConnectionResetError("the member closed the connection in the handshake")
            self._incoming.write(received)
        self.sock.sendall(self._outgoing.read())

    def _handshake_step(self) -> bool:
        """Whether the handshake is done (else it waits for the member)."""
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def send(self, data: bytes) -> None:
        with self._sending:
            with self._lock:
                self._tls.write(data)
                records = self._outgoing.read()
            self.sock.sendall(records)

    def receive(self) -> bytes:
        while True:
            with self._lock:
                try:
                    return self._tls.read(READ_BYTES)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    return b""
            # What reading made for the member (a key update's answer) waits
            # in the outgoing records for the sender's next write.
            received = self.sock.recv(READ_BYTES)
            if not received:
                return b""
            with self._lock:
                self._incoming.write(received)


class FramedStream(SessionStream):
    """The session on a session port's connection: `messages` yields what arrives."""

    def __init__(
        self, wire: Wire, opening: list[pb.ClientMessage], timeout: float, handshake: float
    ) -> None:
        super().__init__(opening, timeout, handshake)
        self._wire = wire
        self._buffer = bytearray()
        # Messages put in the outbox and not yet written by the sender.
        self._queued = len(opening)
        self._counting = threading.Lock()
        self._sender = threading.Thread(target=self._send, name="coord-send", daemon=True)
        self._sender.start()

    def send(self, message: pb.ClientMessage) -> None:
        """Queue `message` for the sender thread; or, when nothing waits for
        the sender or for an answer, write it now, in the caller's thread:
        one request at a time then pays no thread hand-off (BENCHMARKS.md,
        "Session 11"). Only a small one: the caller holds the client's lock,
        which the reader needs, so its write must not wait for the member to
        read, and with every request answered the member has read all."""
        with self._counting:
            direct = (
                not self._queued
                and self.outbox.all_answered()
                and message.ByteSize() <= DIRECT_MAX_BYTES
            )
            if not direct:
                self._queued += 1
        if not direct:
            self.outbox.put(message)
            return
        self.outbox.sent_directly(message)
        try:
            self._wire.send(frame(pb.ClientFrame(messages=[message])))
        except OSError as err:
            log.debug("session port: sending failed: %s", err)
            self.cancel()  # the reader sees the end; the request goes again on the next

    def cancel(self) -> None:
        self._wire.shut()

    def close(self) -> None:
        self.end()
        self._wire.shut()
        self._sender.join()
        self._wire.close()

    def messages(self) -> Iterator[pb.ServerMessage]:
        """What the member sends, until the connection ends (or breaks)."""
        while (server_frame := self._read_frame()) is not None:
            yield from self._received(server_frame)

    def _send(self) -> None:
        """The sender thread: the outbox's frames, then a half-close (the
        member answers what it was sent, then ends)."""
        try:
            for client_frame in self._frames():
                self._wire.send(frame(client_frame))
                queued = sum(m.WhichOneof("kind") != "ping" for m in client_frame.messages)
                with self._counting:
                    self._queued -= queued  # its own pings were never queued
        except OSError as err:
            log.debug("session port: sending failed: %s", err)
            self._wire.shut()
            return
        self._wire.shut(socket.SHUT_WR)

    def _read_frame(self) -> pb.ServerFrame | None:
        """The next frame; None once the connection ended, broke, or carried
        what is not a frame of the member's."""
        try:
            head = self._read(LENGTH.size)
            if head is None:
                return None
            (length,) = LENGTH.unpack(head)
            if length > MAX_SERVER_FRAME_BYTES:
                log.warning("session port: a frame of %d bytes, over the limit", length)
                return None
            body = self._read(length)
            return None if body is None else pb.ServerFrame.FromString(body)
        except (OSError, DecodeError) as err:
            log.debug("session port: reading failed: %r", err)
            return None

    def _read(self, count: int) -> bytes | None:
        buffer = self._buffer
        while len(buffer) < count:
            received = self._wire.receive()
            if not received:
                return None
            buffer += received
        data = bytes(buffer[:count])
        del buffer[:count]
        return data
