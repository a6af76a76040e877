"""A session driven by hand, for tests that need exact control of xids and
connections (the SDK hides both): on a gRPC Session stream, or framed on
a member's session port (`framed=True`)."""

from __future__ import annotations

import queue
import socket
from collections.abc import Iterator

import grpc

from coord_api.frames import LENGTH, frame
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
        framed: bool = False,
    ) -> None:
        """`with_connect`: messages sent in the connect's frame, after it."""
        self._channel = grpc.insecure_channel(address)
        self._outgoing: queue.Queue[pb.ClientFrame | None] = queue.Queue()
        self._sock: socket.socket | None = None
        if framed:
            self._sock = session_port_connection(address)
            self._incoming: Iterator[pb.ServerFrame] = server_frames(self._sock)
        else:
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
        if self._sock is not None:
            self._sock.sendall(frame(pb.ClientFrame(messages=messages)))
        else:
            self._outgoing.put(pb.ClientFrame(messages=messages))

    def next_message(self) -> pb.ServerMessage:
        while not self._messages:
            self._messages.extend(next(self._incoming).messages)
        return self._messages.pop(0)

    @staticmethod
    def refused(
        address: str, session_id: int, password: bytes, framed: bool = False
    ) -> pb.ServerMessage:
        """Try to resume a session that should be gone: the server's answer."""
        try:
            RawSession(address, session_id, password, framed=framed)
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
        if self._sock is not None:
            self._sock.close()
        self._channel.close()


def session_port_connection(address: str) -> socket.socket:
    """A plaintext connection to the session port of the member at `address`."""
    with grpc.insecure_channel(address) as channel:
        answer = client_pb2_grpc.CoordStub(channel).SessionPort(pb.SessionPortRequest(), timeout=10)
    assert answer.port, f"{address} offers no session port"
    return socket.create_connection((address.rpartition(":")[0], answer.port), timeout=30)


def read_exactly(sock: socket.socket, count: int) -> bytes:
    """`count` bytes; EOFError if the member ends the connection first."""
    data = b""
    while len(data) < count:
        received = sock.recv(count - len(data))
        if not received:
            raise EOFError(f"the connection ended after {len(data)} of {count} bytes")
        data += received
    return data


def server_frames(sock: socket.socket) -> Iterator[pb.ServerFrame]:
    """The frames the member sends on a session port's connection, until it ends it."""
    while True:
        try:
            head = read_exactly(sock, LENGTH.size)
        except EOFError:
            return
        (length,) = LENGTH.unpack(head)
        yield pb.ServerFrame.FromString(read_exactly(sock, length))
