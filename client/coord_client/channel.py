"""Where the members are and how to open a gRPC channel to one."""

from __future__ import annotations

import grpc

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


def open_channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
