"""A session stream driven by hand, for tests that need exact control of
xids and connections (the SDK hides both)."""

from __future__ import annotations

import queue

import grpc

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc


class SessionRefused(Exception):
    def __init__(self, answer: pb.ServerMessage) -> None:
        super().__init__(f"not connected: {answer}")
        self.answer = answer


class RawSession:
    def __init__(
        self,
        address: str,
        session_id: int = 0,
        password: bytes = b"",
        *,
        last_zxid: int = 0,
        watches: tuple[pb.WatchRegistration, ...] = (),
        timeout_ms: int = 10_000,
        with_connect: tuple[pb.ClientMessage, ...] = (),
    ) -> None:
        """`with_connect`: messages sent in the connect's frame, after it."""
        self._channel = grpc.insecure_channel(address)
        self._outgoing: queue.Queue[pb.ClientFrame | None] = queue.Queue()
        self._incoming = client_pb2_grpc.CoordStub(self._channel).Session(self._frames())
        self._messages: list[pb.ServerMessage] = []
        self.events: list[pb.WatchEvent] = []
        self.send(pb.ClientMessage(connect=pb.Connect(
            session_id=session_id, password=password, timeout_ms=timeout_ms,
            last_zxid=last_zxid, watches=watches,
        )), *with_connect)  # fmt: skip
        first = self.next_message()
        if first.WhichOneof("kind") != "connected":
            raise SessionRefused(first)
        self.session_id = first.connected.session_id
        self.password = first.connected.password

    def _frames(self):
        while (frame := self._outgoing.get()) is not None:
            yield frame

    def send(self, *messages: pb.ClientMessage) -> None:
        self._outgoing.put(pb.ClientFrame(messages=messages))

    def next_message(self) -> pb.ServerMessage:
        while not self._messages:
            self._messages.extend(next(self._incoming).messages)
        return self._messages.pop(0)

    @staticmethod
    def refused(address: str, session_id: int, password: bytes) -> pb.ServerMessage:
        """Try to resume a session that should be gone: the server's answer."""
        try:
            RawSession(address, session_id, password)
        except SessionRefused as refusal:
            return refusal.answer
        raise AssertionError(f"session 0x{session_id:x} was resumed")

    def next_event(self) -> pb.WatchEvent:
        if self.events:
            return self.events.pop(0)
        while (message := self.next_message()).WhichOneof("kind") != "event":
            pass
        return message.event

    def call(self, xid: int, **op) -> pb.Response:
        """Send one request and return its response; events that arrive on
        the way are kept in `events`."""
        self.send(pb.ClientMessage(request=pb.Request(xid=xid, **op)))
        while True:
            message = self.next_message()
            if message.WhichOneof("kind") == "event":
                self.events.append(message.event)
            elif message.WhichOneof("kind") == "response":
                assert message.response.xid == xid
                return message.response

    def drop(self) -> None:
        """Break the connection without closing the session."""
        self._outgoing.put(None)
        self._channel.close()
