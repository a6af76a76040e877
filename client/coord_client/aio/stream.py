"""One `Coord.Session` stream to one member over grpc.aio.

The threaded stream's outbox and pacing (stream.py) serve here too: the
sender drains everything queued into one frame, pings when nothing went out
for a third of the session timeout, and cancels the call when the member was
silent too long. Only the waiting is the event loop's.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections.abc import AsyncIterator, Callable

import grpc

from coord_api.wire import client_pb2 as pb
from coord_client.channel import CHANNEL_OPTIONS, SETTLED
from coord_client.protocol import PING
from coord_client.stream import Outbox, Stream
from coord_client.tls import ClientTLS, TLSProblem, diagnose


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
        async for frame in self._call:
            self.last_received = time.monotonic()
            for message in frame.messages:
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
