"""One peer link: our messages to one member, over a TCP connection of
their own (TLS with peer TLS), framed by frames.py.

gRPC carries the rest of what members say to each other (coord/rpc/
peer_service.py); the Paxos messages take this leaner way because each
gRPC stream write costs a Python member far more than the message itself
(BENCHMARKS.md, "Where a write's time goes"). The link is found and
proven through the peer's gRPC door: its port by the authenticated
``Peer.Link`` call, then a LinkHello signed as a call of that method.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable

import grpc

from coord import trace
from coord.frames import FrameError, frame, read_frame
from coord.member.ports import PeerEvents
from coord.rpc.member_trust import PEER, MemberTrust
from coord.rpc.peer_tls import member_name
from coord.wire import admin_pb2, peer_pb2, peer_pb2_grpc

log = logging.getLogger(__name__)

MAX_HELLO_BYTES = 4096  # a LinkHello or LinkWelcome
MAX_FRAME_BYTES = 64 << 20  # a PeerFrame: as large as a Peer gRPC message may be
LINK_BUFFER = 256
CONNECT_TIMEOUT_S = 5.0
HIGH_WATER_BYTES = 4 << 20  # written but not yet sent: wait for the socket to take it


class LinkRefused(Exception):
    """The peer would not open the link; the message is its reason."""


class PeerLink:
    """Our messages to one peer over one link; reconnects on its own, and
    reports when an open link breaks."""

    def __init__(self, trust: MemberTrust, peer: int, events: PeerEvents) -> None:
        self.member_id = trust.member_id
        self.peer = peer
        self.trust = trust
        self._events = events
        self._buffer: list[peer_pb2.PeerMessage] = []
        self._wakeup = asyncio.Event()
        self.connected = False
        self._task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None  # while the link is open
        self._gathering = False  # a frame went out this turn: more waits for its end
        self.frames_out = 0
        self.fault = admin_pb2.LinkFault()  # injected by tests; healthy by default
        self._random = random.Random()
        self._refused = ""  # the last refusal logged, to log each once

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def send(self, messages: Iterable[peer_pb2.PeerMessage]) -> None:
        """Send messages as one frame, written in the caller's turn while
        the link is open (a turn of the loop more would be a wait on a
        write's way), or, if a frame already went out in this turn, at the
        turn's end with whatever joins them. While (re)connecting, the
        newest LINK_BUFFER messages wait for the connection; older ones are
        dropped, so a peer that comes back gets what is recent, not a flood."""
        fault = self.fault
        if fault.blocked or fault.drop or fault.delay_ms:
            messages = self._distorted(messages, fault)
        self._queue(messages)

    def _queue(self, messages: Iterable[peer_pb2.PeerMessage]) -> None:
        self._buffer.extend(messages)
        if not self._buffer or self._gathering:
            return  # written at the end of this turn, with what joins it
        writer = self._writer
        if (
            writer is not None
            and not writer.is_closing()
            and writer.transport.get_write_buffer_size() <= HIGH_WATER_BYTES
        ):
            self._write(writer)
            # What is sent later in this turn of the loop waits for its end
            # and goes as one frame: a busy member's many Readies a turn
            # make one write to each peer, not one each.
            self._gathering = True
            asyncio.get_running_loop().call_soon(self._turn_over)
            return
        if len(self._buffer) > LINK_BUFFER:
            del self._buffer[: len(self._buffer) - LINK_BUFFER]
        self._wakeup.set()

    def _turn_over(self) -> None:
        self._gathering = False
        self._queue(())

    def _distorted(
        self, messages: Iterable[peer_pb2.PeerMessage], fault: admin_pb2.LinkFault
    ) -> list[peer_pb2.PeerMessage]:
        """What an injected fault lets through now; delayed ones are sent later."""
        now = []
        for message in messages:
            if fault.blocked or (fault.drop and self._random.random() < fault.drop):
                continue
            if fault.delay_ms:
                delay = self._random.uniform(0, fault.delay_ms / 1000)
                asyncio.get_running_loop().call_later(delay, self._queue, [message])
            else:
                now.append(message)
        return now

    def _write(self, writer: asyncio.StreamWriter) -> None:
        message = peer_pb2.PeerFrame(messages=self._buffer, src=self.member_id)
        self._buffer = []
        self.frames_out += 1
        if trace.ON:
            trace.wire("written", message.messages)
        writer.write(frame(message))

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                reader, writer = await asyncio.wait_for(self._open(), CONNECT_TIMEOUT_S)
            except LinkRefused as why:
                if str(why) != self._refused:
                    self._refused = str(why)
                    log.warning("member %d refused our link: %s", self.peer, why)
            except (OSError, TimeoutError, grpc.RpcError, FrameError) as err:
                log.debug("no link to member %d: %r", self.peer, err)
            else:
                self._refused = ""
                backoff = 0.05
                await self._carry(reader, writer)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 0.5)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Ask the peer's door where its links come in, connect, and prove who we are."""
        async with self.trust.channel(self.peer) as channel:
            address = await peer_pb2_grpc.PeerStub(channel).Link(
                peer_pb2.LinkRequest(), metadata=self.trust.metadata(PEER + "Link", self.peer)
            )
        host = self.trust.doors[self.peer].rsplit(":", 1)[0].strip("[]")
        tls = self.trust.tls
        reader, writer = await asyncio.open_connection(
            host,
            address.port,
            ssl=tls.link_client if tls else None,
            server_hostname=member_name(self.peer) if tls else None,
        )
        try:
            proof = dict(self.trust.metadata(PEER + "Link", self.peer))
            writer.write(frame(peer_pb2.LinkHello(proof=proof)))
            welcome = await read_frame(reader, peer_pb2.LinkWelcome, MAX_HELLO_BYTES)
        except BaseException:
            writer.close()
            raise
        if welcome.refused:
            writer.close()
            raise LinkRefused(welcome.refused)
        return reader, writer

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Keep the link until it breaks: write what waited for it, and
        what is sent while the socket does not take it fast enough. The
        peer writes nothing after its welcome, so anything read ends the link."""
        ended = asyncio.create_task(reader.read(1))
        ended.add_done_callback(lambda _: self._wakeup.set())
        self.connected = True
        self._writer = writer  # what is sent from now on is written at once
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                if ended.done() or writer.is_closing():
                    break
                if self._buffer:
                    self._write(writer)
                if writer.transport.get_write_buffer_size() > HIGH_WATER_BYTES:
                    await writer.drain()
        except OSError as err:
            log.debug("link to member %d ended: %r", self.peer, err)
        finally:
            self._writer = None
            ended.cancel()
            writer.close()
            # What was in flight to a peer that broke is lost, as on any
            # broken connection: Paxos resends what matters.
            self.connected = False
            self._buffer = []
            self._events.peer_lost(self.peer)
