"""Where the members are and how to open a gRPC channel to one."""

from __future__ import annotations

import threading

import grpc

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


def close_soon(channel: grpc.Channel) -> None:
    """Close `channel` in a thread of its own. A channel whose connectivity
    was watched (as a Dial's is) takes 0.2 s to close (measured,
    BENCHMARKS.md "Session 14"): a session moving to another member must
    not wait for the channel it no longer uses."""
    threading.Thread(target=channel.close, name="coord-channel-close", daemon=True).start()


def open_channel(address: str, tls: ClientTLS | None = None, timeout: float = 5.0) -> grpc.Channel:
    """A channel to `address`, with TLS when `tls` is given (OSError when an
    unverified member's certificate cannot be fetched within `timeout`)."""
    if tls is None:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    credentials, options = tls.credentials(address, timeout)
    return grpc.secure_channel(address, credentials, options=[*CHANNEL_OPTIONS, *options])


SETTLED = (
    grpc.ChannelConnectivity.READY,
    grpc.ChannelConnectivity.TRANSIENT_FAILURE,
    grpc.ChannelConnectivity.SHUTDOWN,
)


class Dial:
    """A channel to one member while it connects. `settled` is set as soon as it
    is ready or has failed, so that a dead member (connection refused) costs no
    wait; gRPC itself would keep retrying it quietly. Whoever waits may set
    `settled` too, to stop waiting."""

    def __init__(self, address: str, tls: ClientTLS | None, timeout: float) -> None:
        self.channel = open_channel(address, tls, timeout)
        self.settled = threading.Event()
        self._state: grpc.ChannelConnectivity | None = None
        self.channel.subscribe(self._on_state, try_to_connect=True)

    @property
    def ready(self) -> bool:
        return self._state is grpc.ChannelConnectivity.READY

    @property
    def failed(self) -> bool:
        """The member was reached or refused, and the connection failed."""
        return self._state is grpc.ChannelConnectivity.TRANSIENT_FAILURE

    def finish(self, keep: bool = True) -> grpc.Channel | None:
        """The channel if it is ready and wanted (the caller owns it now);
        else it is closed: at once if not wanted (the client stops), in
        the background if the member could not be reached (the session
        goes on to the next)."""
        self.channel.unsubscribe(self._on_state)
        if keep and self.ready:
            return self.channel
        if keep:
            close_soon(self.channel)
        else:
            self.channel.close()
        return None

    def _on_state(self, state: grpc.ChannelConnectivity) -> None:
        self._state = state
        if state in SETTLED:
            self.settled.set()
