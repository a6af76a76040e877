"""A replication link opened by hand (coord/peers/door.py's other end), as
an intruder or a misbehaving member would: tests only."""

from __future__ import annotations

import socket
import ssl

import grpc

from coord.frames import LENGTH, frame
from coord.rpc.member_trust import PEER
from coord.wire import peer_pb2, peer_pb2_grpc
from tests.servers import ServerProcess

HELLO_PATH = PEER + "Link"  # the method a LinkHello's signature is made for


def link_port(member: ServerProcess, metadata: tuple, channel: grpc.Channel | None = None) -> int:
    """Where `member`'s links come in, asked as `metadata` proves (a member)."""
    own = channel is None
    channel = channel or grpc.insecure_channel(member.peer_address)
    try:
        stub = peer_pb2_grpc.PeerStub(channel)
        return stub.Link(peer_pb2.LinkRequest(), metadata=metadata, timeout=10).port
    finally:
        if own:
            channel.close()


class RawLink:
    """A blocking connection to a member's link door."""

    def __init__(
        self, port: int, context: ssl.SSLContext | None = None, name: str | None = None
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock = context.wrap_socket(sock, server_hostname=name) if context else sock

    def __enter__(self) -> RawLink:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, message) -> None:
        self.sock.sendall(frame(message))

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def hello(self, proof: tuple, *then: peer_pb2.PeerFrame) -> peer_pb2.LinkWelcome:
        """Open the link with `proof` (call metadata), the frames `then`
        sent in the same write; the door's answer."""
        hello = peer_pb2.LinkHello(proof=dict(proof))
        self.send_bytes(b"".join(frame(message) for message in (hello, *then)))
        (length,) = LENGTH.unpack(self._exactly(LENGTH.size))
        return peer_pb2.LinkWelcome.FromString(self._exactly(length))

    def closed(self, timeout: float = 30.0) -> bool:
        """Whether the door closes the link within `timeout` (it never
        writes after its welcome): False if it is still open then."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError(f"closed after {len(data)} of {count} bytes")
            data += chunk
        return data
