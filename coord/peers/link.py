"""One peer link: our messages to one member over one Deliver stream."""

from __future__ import annotations

import asyncio
import logging
import random

import grpc

from coord import trace
from coord.member.ports import PeerEvents
from coord.rpc.member_trust import PEER, MemberTrust
from coord.wire import admin_pb2, peer_pb2, peer_pb2_grpc

log = logging.getLogger(__name__)

LINK_BUFFER = 256


class PeerLink:
    """Our messages to one peer over one Deliver stream; reconnects on its own,
    and reports when an open stream breaks."""

    def __init__(self, trust: MemberTrust, peer: int, events: PeerEvents) -> None:
        self.member_id = trust.member_id
        self.peer = peer
        self.trust = trust
        self._events = events
        self._buffer: list[peer_pb2.PeerMessage] = []
        self._wakeup = asyncio.Event()
        self.connected = False
        self._task: asyncio.Task | None = None
        self.frames_out = 0
        self.fault = admin_pb2.LinkFault()  # injected by tests; healthy by default
        self._random = random.Random()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def send(self, message: peer_pb2.PeerMessage) -> None:
        """Queue a message. While (re)connecting, the newest LINK_BUFFER
        messages wait for the connection; older ones are dropped, so a peer
        that comes back gets what is recent, not a flood."""
        fault = self.fault
        if fault.blocked or (fault.drop and self._random.random() < fault.drop):
            return
        if fault.delay_ms:
            delay = self._random.uniform(0, fault.delay_ms / 1000)
            asyncio.get_running_loop().call_later(delay, self._queue, message)
        else:
            self._queue(message)

    def _queue(self, message: peer_pb2.PeerMessage) -> None:
        self._buffer.append(message)
        if len(self._buffer) > LINK_BUFFER:
            del self._buffer[: len(self._buffer) - LINK_BUFFER]
        self._wakeup.set()

    async def _run(self) -> None:
        backoff = 0.05
        async with self.trust.channel(self.peer) as channel:
            stub = peer_pb2_grpc.PeerStub(channel)
            while True:
                call = stub.Deliver(metadata=self.trust.metadata(PEER + "Deliver", self.peer))
                try:
                    # An empty frame first: it fails fast if the peer is down.
                    await call.write(peer_pb2.PeerFrame(src=self.member_id))
                    self.connected = True
                    backoff = 0.05
                    while True:
                        await self._wakeup.wait()
                        self._wakeup.clear()
                        frame = peer_pb2.PeerFrame(messages=self._buffer, src=self.member_id)
                        self._buffer = []
                        self.frames_out += 1
                        if trace.ON:
                            trace.wire("written", frame.messages)
                        await call.write(frame)
                except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as err:
                    log.debug("stream to member %d ended: %r", self.peer, err)
                finally:
                    call.cancel()
                if self.connected:
                    # What was in flight to a peer that broke is lost, as on
                    # any broken connection: Paxos resends what matters.
                    self.connected = False
                    self._buffer = []
                    self._events.peer_lost(self.peer)
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 0.5)
