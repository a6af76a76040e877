"""The ZooKeeper door: each TCP connection a ZooKeeper client opens carries
one session (coord/session/session.py), in jute (translate.py).

A frame is a 4-byte length and that many bytes; one longer than
--max-request-bytes (ZooKeeper's jute.maxbuffer), one that is not the
record its header names, or a first frame that is not a ConnectRequest
within CONNECT_TIMEOUT_S ends the connection, as ZooKeeper ends it; so does
a request after the session ended. Connections count against
--max-sessions and --max-sessions-per-ip with the gRPC door's streams
(coord/session/admission.py). With the client port's TLS (--tls-cert), it
serves TLS as well, and with --tls-ca only clients with a certificate of
that CA, whose subject is their x509 id. Answers are written as soon as the session makes them;
while more than the transport's high-water mark waits for the client, its
next request is not read, and once more than --max-unread-bytes waits (the
events it does not read) the connection is cut; the session lives on.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections import deque

from coord.acl import Ident, Ids
from coord.member.member import Member
from coord.session.admission import Admission, Refused
from coord.session.session import Session
from coord.session.x509_name import certificate_subject
from coord.zk import translate
from coord.zk.jute import JuteError
from coord.zk.translate import Rearm, Refusal, Sent, Xid
from coord_api.wire import client_pb2 as pb

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a connection that sends no ConnectRequest by then is closed
LENGTH = struct.Struct(">i")


class ZooKeeperDoor:
    def __init__(
        self,
        member: Member,
        admission: Admission,
        super_digest: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.member = member
        self.admission = admission
        self.super_digest = super_digest
        self.tls = tls  # the client port's TLS (--tls-cert, --tls-ca): the same here
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self.port = 0

    async def bind(self, host: str, port: int) -> None:
        """Take `host`:`port` (0: a free port, then in `self.port`), not yet
        serving. OSError if it cannot."""
        self._server = await asyncio.start_server(
            self._serve, host, port, start_serving=False,
            ssl=self.tls, ssl_handshake_timeout=CONNECT_TIMEOUT_S if self.tls else None,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        if self._server is not None:
            await self._server.start_serving()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        address = writer.get_extra_info("peername")[0]
        try:
            with self.admission.stream(_admission_key(address)):
                ids = _connection_ids(writer, address)
                connection = Connection(self.member, reader, writer, ids, self.super_digest)
                await connection.run()
        except Refused as refused:
            log.info("ZooKeeper connection from %s refused: %s", address, refused)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the client went away, or never said who it was
        except (JuteError, FrameError) as err:
            log.info("ZooKeeper connection from %s closed: %s", address, err)
        finally:
            self._connections.discard(task)
            writer.close()


def _admission_key(address: str) -> str:
    """`address` as the gRPC door counts it (gRPC's peer string without the
    port), so that one client's sessions count once through both doors."""
    return f"ipv6:%5B{address}%5D" if ":" in address else f"ipv4:{address}"


def _connection_ids(writer: asyncio.StreamWriter, address: str) -> Ids:
    """The ids a client has without proving anything more: its address,
    and over mutual TLS its certificate's subject."""
    ids: list[Ident] = [("ip", address)]
    tls = writer.get_extra_info("ssl_object")
    certificate = tls.getpeercert(binary_form=True) if tls is not None else None
    subject = certificate_subject(certificate) if certificate else None
    if subject:
        ids.append(("x509", subject))
    return tuple(ids)


class FrameError(Exception):
    """A frame's length is over the limit, or negative."""


class Connection:
    """One client's connection: its frames to its session and back."""

    def __init__(
        self,
        member: Member,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        ids: Ids,
        super_digest: str,
    ) -> None:
        self.member = member
        self.reader = reader
        self.writer = writer
        self.session = Session(member, ids, super_digest)
        self.session.on_send = self._flush
        self._sent: deque[Sent] = deque()  # requests the session will answer, in order
        self._requests = 0  # requests read so far
        self._connected = False
        self._closed = False

    async def run(self) -> None:
        body = await asyncio.wait_for(self._read_body(), CONNECT_TIMEOUT_S)
        connect = translate.connect(body)
        session = self.session
        await session.start([pb.ClientMessage(connect=connect)])
        reading = asyncio.create_task(self._read())
        try:
            while not self._closed:
                self._flush()
                if session.over or session.cut.is_set():
                    break
                await session.more()
        finally:
            reading.cancel()
            session.detach()

    async def _read_body(self) -> bytes:
        (length,) = LENGTH.unpack(await self.reader.readexactly(LENGTH.size))
        limit = self.member.limits.max_request_bytes
        if not 0 <= length <= limit:
            raise FrameError(f"a frame of {length} bytes (--max-request-bytes {limit})")
        self.member.counters.client_frames_in += 1
        return await self.reader.readexactly(length)

    async def _read(self) -> None:
        """Hand the session each request until it takes no more or the
        client stops sending."""
        session = self.session
        try:
            while session.reading:
                await self.writer.drain()  # the client reads what it was sent first
                request = translate.request(await self._read_body())
                await self._hand(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (JuteError, FrameError) as err:
            log.info("ZooKeeper client sent what is not a request: %s", err)
            self._close()
        session.input_done()

    async def _hand(self, request: translate.Request) -> None:
        ask, sent = request.ask, request.sent
        self._requests += 1
        if isinstance(ask, Rearm):
            # Only a reconnecting client's first request: the session's
            # watches are replaced by those it names.
            if self._requests == 1:
                self.session.rearm(ask.last_zxid, ask.watches)
                code = translate.Code.OK
            else:
                code = translate.Code.BAD_ARGUMENTS
            self._flush()
            self._write(translate.header(Xid.SET_WATCHES, self.member.tree.zxid, code).frame())
            return
        if isinstance(ask, Refusal):
            self._sent.append(sent)
            self.session.refuse(ask.kind, ask.result)
            return
        if ask.WhichOneof("kind") != "ping":
            self._sent.append(sent)
        await self.session.take([ask])

    def _flush(self) -> None:
        """Write what the session has to send, now."""
        session = self.session
        while (frame := session.take_frame()) is not None:
            self._write(b"".join(self._reply(message) for message in frame.messages))
        limit = self.member.limits.max_unread_bytes
        if not self._closed and self.writer.transport.get_write_buffer_size() > limit:
            log.info("ZooKeeper client did not read: over %d bytes waited for it", limit)
            self.member.counters.unread_streams_cut += 1
            self._close()

    def _write(self, data: bytes) -> None:
        if data and not self._closed:
            self.member.counters.client_frames_out += 1
            self.writer.write(data)

    def _close(self) -> None:
        """End the connection now; the session lives on."""
        self._closed = True
        self.session.stop_reading()
        self.session.input_done()
        self.writer.transport.abort()

    def _reply(self, message: pb.ServerMessage) -> bytes:
        kind = message.WhichOneof("kind")
        if kind == "response":
            return translate.response(self._sent.popleft(), message.response)
        if kind == "event":
            return translate.event(message.event)
        if kind == "pong":
            return translate.pong(message.pong)
        if kind == "connected":
            self._connected = True
            return translate.connected(message.connected)
        if kind == "closed":
            return translate.closed(self._sent.popleft(), self.member.tree.zxid)
        # session_error: the connection ends after what came before it. A
        # client learns its session expired from a refused connect.
        error = message.session_error
        if error.code == pb.SESSION_EXPIRED and not self._connected:
            return translate.expired()
        log.info("ZooKeeper session ends its connection: %s", error.message)
        return b""
