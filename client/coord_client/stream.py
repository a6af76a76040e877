"""One `Coord.Session` stream to one member, driven from a queue.

The sender drains everything queued into one `ClientFrame`, so many requests
in flight share a gRPC message instead of each paying a round trip. A gRPC
message costs tens of microseconds of CPU at each end, far more than a
request, so the sender also holds back, as Nagle's algorithm does: while a
request it sent is unanswered, what is queued waits until every request sent
is answered (or HOLD_S at most) and goes out with what joins it meanwhile.
One request at a time never waits; many in flight share frames. It sends a
Ping when nothing went out for a third of the session timeout, and gives the
stream up the moment nothing came back for two thirds of it (as ZooKeeper's
client), leaving a third to reach another member, or, before the session is
up on it, when the member has not answered the connect in the time it was
given.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import grpc

from coord_api.wire import client_pb2 as pb
from coord_api.wire.client_pb2_grpc import CoordStub
from coord_client.protocol import PING

# Under a member's --max-request-bytes (1 MiB + 1 KiB by default); a
# message larger than this goes alone.
MAX_FRAME_BYTES = 1 << 20
HOLD_S = 0.015  # the longest a message waits for company while requests are unanswered
_END = object()
# A list (set by a tracing tool, e.g. scripts/trace_write) to note each
# request sent and each response received in: (time.monotonic_ns(),
# "client_send" or "client_receive", xid). None: nothing is noted.
frames_seen: list[tuple[int, str, int]] | None = None


def _never() -> float:
    return math.inf


def _note(stage: str, requests_or_responses) -> None:
    now = time.monotonic_ns()
    frames_seen.extend((now, stage, item.xid) for item in requests_or_responses)


class Outbox:
    """Messages waiting to go out on one stream, drained into frames."""

    def __init__(self, ping_interval: float) -> None:
        self.ping_interval = ping_interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._carry: Any = None  # the message that did not fit in the last frame
        self.last_sent = time.monotonic()
        # Requests sent and answered on this stream; each has one writer
        # thread (the sender, the reader), so neither needs a lock.
        self._sent = 0
        self._answered = 0
        # Set when all are answered. Held messages wait on this, not on the
        # queue: each message queued meanwhile wakes nobody.
        self._all_answered = threading.Event()

    def answered(self, count: int) -> None:
        """The member answered `count` more requests: once it has answered
        all, what is held may go."""
        self._answered += count
        if self._answered >= self._sent:
            self._all_answered.set()

    def put(self, message: pb.ClientMessage) -> None:
        self._queue.put(message)

    def all_answered(self) -> bool:
        return self._answered >= self._sent

    def idle(self) -> bool:
        """Nothing waits to be drained into a frame."""
        return self._carry is None and self._queue.empty()

    def _count_sent(self, frame: pb.ClientFrame) -> None:
        if frames_seen is not None:
            _note("client_send", (m.request for m in frame.messages if m.HasField("request")))
        self._sent += sum(m.WhichOneof("kind") == "request" for m in frame.messages)

    def sent_directly(self, message: pb.ClientMessage) -> None:
        """`message` went out in its sender's thread, not through the queue
        (framed.py): counted as the frames this outbox makes are."""
        if message.HasField("request"):
            self._sent += 1
            if frames_seen is not None:
                _note("client_send", (message.request,))
        self.last_sent = time.monotonic()

    def end(self) -> None:
        """Finish the stream (half-close) after what is already queued."""
        self._queue.put(_END)

    def frames(
        self, give_up_at: Callable[[], float] = _never
    ) -> Generator[pb.ClientFrame, None, bool]:
        """The frames to send, until `end()` (then returns False) or until the
        clock passes `give_up_at()` (then True), which it wakes up to see."""
        self.last_sent = time.monotonic()
        while (wait := self._quiet_for(give_up_at)) is not None:
            try:
                first = self._next(wait)
            except queue.Empty:
                if not self._ping_due():
                    continue  # woke to look at the silence; no ping is due yet
                first = PING
            self._hold()
            frame, ended = self._frame(first)
            if frame is not None:
                self._count_sent(frame)
                yield frame
            if ended:
                return False
        return True

    def _hold(self) -> None:
        """While requests are unanswered, wait for their answers or HOLD_S,
        so that what is queued meanwhile shares the frame."""
        self._all_answered.clear()
        if self._answered < self._sent:
            self._all_answered.wait(HOLD_S)

    def _quiet_for(self, give_up_at: Callable[[], float]) -> float | None:
        """How long to wait for something to send before a ping is due or the
        member's silence is to be looked at again; None once it is too long."""
        now, give_up = time.monotonic(), give_up_at()
        if now > give_up:
            return None
        return max(min(self.last_sent + self.ping_interval, give_up) - now, 0.0)

    def _ping_due(self) -> bool:
        return time.monotonic() >= self.last_sent + self.ping_interval

    def _frame(self, first: Any) -> tuple[pb.ClientFrame | None, bool]:
        """`first` and what is queued behind it as one frame (None when there
        is nothing to send), and whether the stream ends after it."""
        messages, ended = self._drain(first)
        if not messages:
            return None, ended
        self.last_sent = time.monotonic()
        return pb.ClientFrame(messages=messages), ended

    def _next(self, wait: float) -> Any:
        if self._carry is not None:
            item, self._carry = self._carry, None
            return item
        return self._queue.get(timeout=max(wait, 0.0))

    def _drain(self, item: Any) -> tuple[list[pb.ClientMessage], bool]:
        """`item` and everything queued behind it, up to MAX_FRAME_BYTES; and
        whether the end of the stream was reached."""
        batch: list[pb.ClientMessage] = []
        size = 0
        while item is not _END:
            size += item.ByteSize()
            if batch and size > MAX_FRAME_BYTES:
                self._carry = item
                return batch, False
            batch.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True


class SessionStream(ABC):
    """What every transport of the session shares: `send` queues a message
    in the outbox, and silence from the member is watched."""

    def __init__(self, opening: list[pb.ClientMessage], timeout: float, handshake: float) -> None:
        """`opening` goes out as the first frame; `timeout` is the session
        timeout; until `set_timeout` says the session is up, the member has
        `handshake` seconds to answer."""
        self.outbox = self._new_outbox(timeout / 3)
        for message in opening:
            self.outbox.put(message)
        self.read_timeout = handshake
        self.last_received = time.monotonic()
        self.established = False  # the session is up on this stream

    def _new_outbox(self, ping_interval: float) -> Outbox:
        return Outbox(ping_interval)

    def _give_up_at(self) -> float:
        """When silence from the member means it is gone."""
        return self.last_received + self.read_timeout

    def set_timeout(self, timeout: float) -> None:
        """Pace pings and silence by the negotiated session timeout."""
        self.outbox.ping_interval = timeout / 3
        self.read_timeout = timeout * 2 / 3

    def send(self, message: pb.ClientMessage) -> None:
        self.outbox.put(message)

    def end(self) -> None:
        self.outbox.end()

    @abstractmethod
    def cancel(self) -> None:
        """Break the stream off; the reader sees it end."""

    def _received(self, frame: pb.ServerFrame) -> Sequence[pb.ServerMessage]:
        """A frame came: the member is alive, and answered what it answers."""
        self.last_received = time.monotonic()
        if frames_seen is not None:
            _note("client_receive", (m.response for m in frame.messages if m.HasField("response")))
        self.outbox.answered(sum(m.WhichOneof("kind") == "response" for m in frame.messages))
        return frame.messages

    def _frames(self) -> Iterator[pb.ClientFrame]:
        """The outbox's frames; silence too long breaks the stream off."""
        silent = yield from self.outbox.frames(self._give_up_at)
        if silent:
            self.cancel()  # the reader sees the end and reconnects


class Stream(SessionStream):
    """The session on a `Coord.Session` gRPC stream: `messages` yields what arrives."""

    def __init__(
        self,
        channel: grpc.Channel,
        opening: list[pb.ClientMessage],
        timeout: float,
        handshake: float,
    ) -> None:
        super().__init__(opening, timeout, handshake)
        self._channel = channel
        self._call = CoordStub(channel).Session(self._frames())

    def cancel(self) -> None:
        self._call.cancel()

    def close(self) -> None:
        self.end()
        self._call.cancel()
        self._channel.close()

    def messages(self) -> Iterator[pb.ServerMessage]:
        """What the member sends, until the stream ends; grpc.RpcError when it breaks."""
        for frame in self._call:
            yield from self._received(frame)
