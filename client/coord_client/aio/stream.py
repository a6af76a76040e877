"""The session's connection to one member on the event loop: a
`Coord.Session` stream over grpc.aio, or the member's session port
(framed.py) over asyncio's streams.

The threaded stream's outbox and pacing (stream.py) serve here too: the
sender drains everything queued into one frame, pings when nothing went out
for a third of the session timeout, and cancels the call when the member was
silent too long. Only the waiting is the event loop's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import time
from collections.abc import AsyncIterator, Callable

import grpc
from google.protobuf.message import DecodeError

from coord_api.frames import LENGTH, frame
from coord_api.wire import client_pb2 as pb
from coord_api.wire.client_pb2_grpc import CoordStub
from coord_client.channel import CHANNEL_OPTIONS, SETTLED
from coord_client.framed import MAX_SERVER_FRAME_BYTES
from coord_client.protocol import PING
from coord_client.stream import Outbox, SessionStream, Stream
from coord_client.tls import ClientTLS, TLSProblem, diagnose, split_address

log = logging.getLogger("coord_client")


class AioOutbox(Outbox):
    """The outbox, waking the event loop's sender when something is queued."""

    def __init__(self, ping_interval: float) -> None:
        super().__init__(ping_interval)
        self._wake = asyncio.Event()

    def put(self, message: pb.ClientMessage) -> None:
        super().put(message)
        self._wake.set()

    def end(self) -> None:
        super().end()
        self._wake.set()

    async def frames_async(
        self, give_up_at: Callable[[], float], on_silence: Callable[[], None]
    ) -> AsyncIterator[pb.ClientFrame]:
        """The frames to send, until `end()`, or until the clock passes
        `give_up_at()` (then `on_silence()`)."""
        self.last_sent = time.monotonic()
        while (wait := self._quiet_for(give_up_at)) is not None:
            self._wake.clear()
            try:
                first = self._next(0.0)
            except queue.Empty:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                if self._wake.is_set() or not self._ping_due():
                    continue  # something to send, or woke to look at the silence
                first = PING
            frame, ended = self._frame(first)
            if frame is not None:
                self._count_sent(frame)
                yield frame
            if ended:
                return
        on_silence()


class AioStream(Stream):
    """The stream's two ends on the event loop: `send` queues a message,
    `messages()` is an async iterator of what arrives."""

    outbox: AioOutbox

    def _new_outbox(self, ping_interval: float) -> AioOutbox:
        return AioOutbox(ping_interval)

    def _frames(self) -> AsyncIterator[pb.ClientFrame]:  # type: ignore[override]
        return self.outbox.frames_async(self._give_up_at, self.cancel)

    @property
    def cancelled(self) -> bool:
        return self._call.cancelled()

    async def messages(self) -> AsyncIterator[pb.ServerMessage]:  # type: ignore[override]
        """What the member sends, until the stream ends; grpc.RpcError when it breaks."""
        async for server_frame in self._call:
            for message in self._received(server_frame):
                yield message

    async def aclose(self) -> None:
        self.end()
        self._call.cancel()
        await self._channel.close()


async def dial(
    address: str, patience: float, tls: ClientTLS | None
) -> tuple[grpc.aio.Channel | None, TLSProblem | None]:
    """A channel to `address` once it is ready; None as soon as the member
    cannot be reached (a dead member costs no wait) or `patience` runs out,
    with the TLS problem when the member was reached and TLS is why."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    if tls is None:
        channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    else:
        try:  # unverified, this fetches the member's certificate: not on the loop
            credentials, options = await asyncio.to_thread(tls.credentials, address, patience)
        except OSError:
            return None, await asyncio.to_thread(diagnose, address, tls, patience)
        channel = grpc.aio.secure_channel(
            address, credentials, options=[*CHANNEL_OPTIONS, *options]
        )
    try:
        async with asyncio.timeout(max(patience - (loop.time() - began), 0.0)):
            state = channel.get_state(try_to_connect=True)
            while state not in SETTLED:
                await channel.wait_for_state_change(state)
                state = channel.get_state(try_to_connect=True)
    except TimeoutError:
        state = None
    except BaseException:
        await channel.close()
        raise
    if state is grpc.ChannelConnectivity.READY:
        return channel, None
    await channel.close()
    if state is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
        return None, None
    return None, await asyncio.to_thread(diagnose, address, tls, patience)


async def session_port_stream(
    channel: grpc.aio.Channel,
    address: str,
    tls: ClientTLS | None,
    time_left: Callable[[], float],
) -> tuple[int, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """The session port of the member at the other end of `channel` (0 if
    it offers none), and a connection to it if it can be made in half the
    time left (as framed.py's `connect`)."""
    try:
        answer = await CoordStub(channel).SessionPort(
            pb.SessionPortRequest(), timeout=max(time_left(), 0.0)
        )
    except grpc.RpcError:
        return 0, None
    if not answer.port:
        return 0, None
    host, _ = split_address(address)
    context = tls.ssl_context() if tls is not None else None
    try:
        async with asyncio.timeout(max(time_left() / 2, 0.0)):
            return answer.port, await asyncio.open_connection(
                host, answer.port, ssl=context, server_hostname=host if context else None
            )
    except (OSError, TimeoutError) as err:
        log.debug("no connection to the session port %s:%d: %s", host, answer.port, err)
        return answer.port, None


class AioFramedStream(SessionStream):
    """The session on a session port's connection (framed.py), on the event loop."""

    outbox: AioOutbox

    def __init__(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        opening: list[pb.ClientMessage],
        timeout: float,
        handshake: float,
    ) -> None:
        super().__init__(opening, timeout, handshake)
        self._reader, self._writer = connection
        self._sender = asyncio.ensure_future(self._send())

    def _new_outbox(self, ping_interval: float) -> AioOutbox:
        return AioOutbox(ping_interval)

    def send(self, message: pb.ClientMessage) -> None:
        """As framed.py's: written at once when nothing waits for the sender
        or for an answer (the sender task would write it a turn later), else
        queued, to share a frame with what follows."""
        outbox = self.outbox
        if outbox.idle() and outbox.all_answered() and not self._writer.transport.is_closing():
            outbox.sent_directly(message)
            self._writer.write(frame(pb.ClientFrame(messages=[message])))
        else:
            outbox.put(message)

    def cancel(self) -> None:
        self._writer.transport.abort()

    async def _send(self) -> None:
        """The outbox's frames, until it ends (the member answers what it was
        sent, then ends) or the member falls silent (then the connection is cut)."""
        writer = self._writer
        try:
            async for client_frame in self.outbox.frames_async(self._give_up_at, self.cancel):
                writer.write(frame(client_frame))
                await writer.drain()
        except OSError as err:
            log.debug("session port: sending failed: %s", err)
            self.cancel()

    async def messages(self) -> AsyncIterator[pb.ServerMessage]:
        """What the member sends, until the connection ends (or breaks)."""
        reader = self._reader
        while True:
            try:
                (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
                if length > MAX_SERVER_FRAME_BYTES:
                    log.warning("session port: a frame of %d bytes, over the limit", length)
                    return
                server_frame = pb.ServerFrame.FromString(await reader.readexactly(length))
            except (asyncio.IncompleteReadError, OSError, DecodeError) as err:
                log.debug("session port: reading ended: %r", err)
                return
            for message in self._received(server_frame):
                yield message

    async def aclose(self) -> None:
        self.end()
        self._sender.cancel()
        self._writer.transport.abort()
