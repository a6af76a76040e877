"""The ports the tests give the servers they start (tests/servers.py): never
one the kernel may give an outgoing connection meanwhile, never one taken."""

from __future__ import annotations

import socket
from pathlib import Path

from tests import servers
from tests.servers import free_port


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_below_the_ephemeral_range_and_each_given_once() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(10_000 <= port < ephemeral_low() for port in ports)


def test_a_port_bound_already_is_skipped() -> None:
    upcoming = servers._PORTS[servers._next_port % len(servers._PORTS)]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", upcoming))
        holder.listen()
        assert free_port() != upcoming
