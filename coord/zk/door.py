"""The ZooKeeper door: each TCP connection a ZooKeeper client opens carries
one session (coord/session/session.py), in jute (translate.py).

A frame is a 4-byte length and that many bytes; one longer than
--max-request-bytes (ZooKeeper's jute.maxbuffer), one that is not the
record its header names, or a first frame that is not a ConnectRequest
within CONNECT_TIMEOUT_S ends the connection, as ZooKeeper ends it; so does
a request after the session ended. Connections count against
--max-sessions and --max-sessions-per-ip with the gRPC door's streams
(coord/session/admission.py), from the moment they open. With the client
port's TLS (--tls-cert), it serves TLS as well, and with --tls-ca only
clients with a certificate of that CA, whose subject is their x509 id.
Answers are written as soon as the session makes them; while more than
the transport's high-water mark waits for the client, its next request is
not read, and once more than --max-unread-bytes waits (the events it does
not read) the connection is cut; the session lives on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import ssl
import struct
import time
from collections import deque
from dataclasses import dataclass
from importlib import metadata

from coord.acl import Ids
from coord.listener import Listener
from coord.member.member import Member
from coord.session.admission import Admission, Refused
from coord.session.session import Session
from coord.session.tcp_caller import admission_key, connection_ids
from coord.session.tcp_connection import TcpConnection
from coord.zk import four_letter, translate
from coord.zk.codes import Code, Op, Xid
from coord.zk.jute import JuteError
from coord.zk.translate import Answer, Rearm, Sent
from coord_api.wire import client_pb2 as pb

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a connection that sends no ConnectRequest by then is closed
LENGTH = struct.Struct(">i")
try:
    VERSION = metadata.version("coord")
except metadata.PackageNotFoundError:  # run from a checkout that was not installed
    VERSION = "unknown"


class ZooKeeperDoor(Listener):
    def __init__(
        self,
        member: Member,
        admission: Admission,
        super_digest: str = "",
        tls: ssl.SSLContext | None = None,
        words: frozenset[str] = four_letter.DEFAULT_WORDS,
        data_dir: str = "",
    ) -> None:
        # The client port's TLS (--tls-cert, --tls-ca): the same here.
        super().__init__(tls, CONNECT_TIMEOUT_S)
        self.member = member
        self.admission = admission
        self.super_digest = super_digest
        self.words = words  # the four-letter words answered (--zk-4lw)
        self.data_dir = data_dir  # what conf tells of where the member keeps its data
        self.stats = Stats()
        self._open: set[Connection] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address, port = writer.get_extra_info("peername")[:2]
        try:
            # Counted from the start, as ZooKeeper counts maxClientCnxns: one
            # address cannot hold more connections than sessions waiting to connect.
            with self.admission.stream(admission_key(address)):
                head = await asyncio.wait_for(reader.readexactly(LENGTH.size), CONNECT_TIMEOUT_S)
                word = four_letter.parse(head)
                if word is not None:
                    said = four_letter.answer(word, self.words, lambda: self.facts(word))
                    writer.write(said.encode())
                    await writer.drain()
                    return
                ids = connection_ids(writer, address)
                connection = Connection(self, reader, writer, ids, f"{address}:{port}")
                self._open.add(connection)
                try:
                    await connection.run(head)
                finally:
                    self._open.discard(connection)
        except Refused as refused:
            log.info("ZooKeeper connection from %s refused: %s", address, refused)
        except (asyncio.IncompleteReadError, OSError, TimeoutError):
            pass  # the client went away (or its TLS failed), or never said who it was
        except (JuteError, FrameError) as err:
            log.info("ZooKeeper connection from %s closed: %s", address, err)

    def facts(self, word: str) -> four_letter.Facts:
        """What the four-letter words tell, now (the watches counted only for
        the words that show them)."""
        member = self.member
        status = member.status("")
        watches = member.watches
        counted = word in four_letter.WATCH_WORDS
        return four_letter.Facts(
            version=f"coord {VERSION}, ZooKeeper protocol",
            mode="standalone" if len(member.members) == 1 else status.role,
            read_only=member.write_refusal() is not None,
            zxid=status.applied_zxid,
            znodes=status.znodes,
            latency_ms=self.stats.latency_ms(),
            received=self.stats.received,
            sent=self.stats.sent,
            connections=[c.described() for c in self._open],
            watchers=watches.watchers() if counted else 0,
            watched_paths=watches.paths() if counted else 0,
            watches=watches.count() if counted else 0,
            config=self._config() if word == "conf" else {},
            environment={
                "zookeeper.version": f"coord {VERSION}",
                "host.name": socket.gethostname(),
                "python.version": platform.python_version(),
                "os.name": platform.system(),
                "os.arch": platform.machine(),
                "os.version": platform.release(),
                "user.dir": os.getcwd(),
            },
        )

    def _config(self) -> dict[str, str | int]:
        """What conf tells, in ZooKeeper's names."""
        limits = self.member.limits
        return {
            "clientPort": self.port,
            "dataDir": self.data_dir,
            "serverId": self.member.member_id,
            "minSessionTimeout": limits.min_session_timeout_ms,
            "maxSessionTimeout": limits.max_session_timeout_ms,
            "maxClientCnxns": limits.max_sessions_per_ip,
            "jute.maxbuffer": limits.max_request_bytes,
        }


@dataclass
class Stats:
    """This door's traffic since the member started, as srvr and mntr tell
    it: frames each way, and how long its requests took (read to answer)."""

    received: int = 0
    sent: int = 0
    answered: int = 0
    total_s: float = 0.0
    least_s: float = 0.0
    most_s: float = 0.0

    def took(self, seconds: float) -> None:
        self.least_s = seconds if not self.answered else min(self.least_s, seconds)
        self.most_s = max(self.most_s, seconds)
        self.answered += 1
        self.total_s += seconds

    def latency_ms(self) -> tuple[float, float, float]:
        mean = self.total_s / self.answered if self.answered else 0.0
        return self.least_s * 1000, mean * 1000, self.most_s * 1000


class FrameError(Exception):
    """A frame's length is over the limit, or negative."""


class Connection(TcpConnection):
    """One client's connection: its frames to its session and back."""

    def __init__(
        self,
        door: ZooKeeperDoor,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        ids: Ids,
        peer: str,
    ) -> None:
        self.stats = door.stats
        self.reader = reader
        self.peer = peer
        self._sent: deque[Sent] = deque()  # requests the session will answer, in order
        self._rearmable = True  # no request but auths yet: SetWatches may come
        self._received = 0  # frames read
        self._answers = 0  # frames written back
        self._connected = False
        session = Session(door.member, ids, door.super_digest)
        super().__init__(door.member, session, writer, "ZooKeeper door")

    def described(self) -> four_letter.Connection:
        local = self.session.local
        return four_letter.Connection(
            peer=self.peer,
            session_id=local.session_id if local else 0,
            timeout_ms=local.timeout_ms if local else 0,
            queued=len(self._sent),
            received=self._received,
            sent=self._answers,
        )

    async def run(self, head: bytes) -> None:
        """Serve the connection whose first frame's length is `head`."""
        body = await asyncio.wait_for(self._read_body(head), CONNECT_TIMEOUT_S)
        connect = translate.connect(body)
        await self.session.start([pb.ClientMessage(connect=connect)])
        await self.serve(self._read())

    async def _read_body(self, head: bytes | None = None) -> bytes:
        """The next frame's body (its length already read, if `head`)."""
        (length,) = LENGTH.unpack(head or await self.reader.readexactly(LENGTH.size))
        limit = self.member.limits.max_request_bytes
        if not 0 <= length <= limit:
            raise FrameError(f"a frame of {length} bytes (--max-request-bytes {limit})")
        self.member.counters.client_frames_in += 1
        self.stats.received += 1
        self._received += 1
        return await self.reader.readexactly(length)

    async def _read(self) -> None:
        """Hand the session each request until it takes no more or the
        client stops sending."""
        session = self.session
        try:
            while session.reading:
                await self.writer.drain()  # the client reads what it was sent first
                request = translate.request(await self._read_body())
                request.sent.at = time.monotonic()
                await self._hand(request)
        except (asyncio.IncompleteReadError, OSError):
            pass  # the client went away, or its TLS failed
        except (JuteError, FrameError) as err:
            log.info("ZooKeeper client sent what is not a request: %s", err)
            self._close()
        session.input_done()

    async def _hand(self, request: translate.Request) -> None:
        ask, sent = request.ask, request.sent
        if isinstance(ask, Rearm):
            # Only as a reconnecting client sends it, first (after its auths:
            # ZooKeeper's Java client puts those ahead): the session's
            # watches are replaced by those it names.
            if self._rearmable:
                self.session.rearm(ask.last_zxid, ask.watches)
                code = Code.OK
            else:
                code = Code.BAD_ARGUMENTS
            self._rearmable = False
            self._flush()
            self._write(translate.header(Xid.SET_WATCHES, self.member.tree.zxid, code).frame())
            return
        if sent.op != Op.AUTH:
            self._rearmable = False
        if isinstance(ask, Answer):
            self._sent.append(sent)
            self.session.answer(ask.kind, ask.result)
            return
        if ask.WhichOneof("kind") != "ping":
            self._sent.append(sent)
        await self.session.take([ask])

    def _write_frame(self, frame: pb.ServerFrame) -> None:
        self._write(b"".join(self._reply(message) for message in frame.messages))

    def _reply(self, message: pb.ServerMessage) -> bytes:
        self._answers += 1
        self.stats.sent += 1
        kind = message.WhichOneof("kind")
        if kind == "response":
            sent = self._sent.popleft()
            self.stats.took(time.monotonic() - sent.at)
            return translate.response(sent, message.response)
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
