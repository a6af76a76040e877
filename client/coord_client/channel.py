"""Where the members are and how to open a gRPC channel to one."""

from __future__ import annotations

import threading

import grpc

from coord_api.wire import client_pb2 as pb
from coord_api.wire.client_pb2_grpc import CoordStub
from coord_client.tls import ClientTLS

DEFAULT_PORT = 7181
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]


def _with_port(host: str) -> str:
    if host.startswith("["):  # [IPv6]:port
        return host if "]:" in host else f"{host}:{DEFAULT_PORT}"
    return host if ":" in host else f"{host}:{DEFAULT_PORT}"


def parse_hosts(hosts: str) -> list[str]:
    """The addresses in a connect string (`"h1:7181,h2"`; the port defaults to 7181)."""
    if "/" in hosts:
        raise ValueError(f"a chroot suffix is not supported: {hosts!r}")
    addresses = [_with_port(part.strip()) for part in hosts.split(",") if part.strip()]
    if not addresses:
        raise ValueError(f"no hosts in {hosts!r}")
    return addresses


def open_channel(address: str, tls: ClientTLS | None = None, timeout: float = 5.0) -> grpc.Channel:
    """A channel to `address`, with TLS when `tls` is given (OSError when an
    unverified member's certificate cannot be fetched within `timeout`)."""
    if tls is None:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    credentials, options = tls.credentials(address, timeout)
    return grpc.secure_channel(address, credentials, options=[*CHANNEL_OPTIONS, *options])


# The connectivity states a connecting channel stops at (the asyncio
# client's dial watches them: an asyncio channel closes at once).
SETTLED = (
    grpc.ChannelConnectivity.READY,
    grpc.ChannelConnectivity.TRANSIENT_FAILURE,
    grpc.ChannelConnectivity.SHUTDOWN,
)

# What a first call's failure says of the member: not reached or not
# connected (a dead member refuses at once), or no answer in time.
NOT_CONNECTED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class Dial:
    """A channel to one member while it connects, proven by the member's
    answer to a first call (`SessionPort`): `settled` is set as soon as it
    answered or the call failed, so that a dead member (connection
    refused) costs no wait; whoever waits may set `settled` too, to stop
    waiting. Not by watching the channel's connectivity: a watched channel
    takes 0.2 s to close (measured, BENCHMARKS.md "Session 14"), which
    every connection and every move to another member waited for."""

    def __init__(self, address: str, tls: ClientTLS | None, timeout: float) -> None:
        self.channel = open_channel(address, tls, timeout)
        self.settled = threading.Event()
        self._call = CoordStub(self.channel).SessionPort.future(
            pb.SessionPortRequest(), timeout=timeout
        )
        self._call.add_done_callback(lambda _: self.settled.set())

    def _outcome(self) -> grpc.StatusCode | None:
        """How the first call ended (OK: answered); None while it runs, or
        once it was cancelled."""
        if not self._call.done() or self._call.cancelled():
            return None
        error = self._call.exception()
        return grpc.StatusCode.OK if error is None else error.code()  # type: ignore[attr-defined]

    @property
    def ready(self) -> bool:
        """The member answered (a member with no session port, or one that
        does not know the call, answers too)."""
        outcome = self._outcome()
        return outcome is not None and outcome not in NOT_CONNECTED

    @property
    def failed(self) -> bool:
        """The member was reached or refused, and the connection failed."""
        return self._outcome() is grpc.StatusCode.UNAVAILABLE

    @property
    def port(self) -> int:
        """The member's session port; 0 when it offers none."""
        return self._call.result().port if self._outcome() is grpc.StatusCode.OK else 0

    def finish(self, keep: bool = True) -> grpc.Channel | None:
        """The channel if it is ready and wanted (the caller owns it now); else
        it is closed."""
        if keep and self.ready:
            return self.channel
        self._call.cancel()
        self.channel.close()
        return None
