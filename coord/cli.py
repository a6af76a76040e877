"""coord-server: one member (SPEC §2).

With no flags it serves a single-member cluster at 127.0.0.1:7181 with data
in ./coord-data. Bad flags, an unusable data dir or a busy port end it with
one line on stderr and a non-zero exit; SIGINT/SIGTERM stop it cleanly with
exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import gc
import logging
import signal
import socket
import sys
from pathlib import Path

import grpc

from coord.paxos import Config
from coord.replica import Limits, Replica
from coord.rpc.admin_service import AdminService
from coord.rpc.guard import add_service
from coord.rpc.peer_service import PeerService
from coord.rpc.service import CoordService
from coord.storage import Storage, StorageError
from coord.wire import admin_pb2, peer_pb2
from coord_client.wire import client_pb2

log = logging.getLogger("coord")

DEFAULT_PORT = 7181
MAX_MESSAGE_BYTES = 64 << 20


class UsageError(Exception):
    """A flag is wrong; the message says which, in one line."""


def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def members(text: str) -> dict[int, tuple[str, int]]:
    """`1=host:port,2=host:port,...`"""
    parsed: dict[int, tuple[str, int]] = {}
    for item in text.split(","):
        ident, sep, address = item.partition("=")
        if not sep or not ident.strip().isdigit() or int(ident) < 1:
            raise argparse.ArgumentTypeError(f"{item!r} is not ID=HOST:PORT with ID >= 1")
        if int(ident) in parsed:
            raise argparse.ArgumentTypeError(f"member {ident} is listed twice")
        parsed[int(ident)] = host_port(address.strip())
    return parsed


def positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def digest(text: str) -> str:
    """A digest id, `user:BASE64(SHA1("user:password"))`, as ZooKeeper's
    superDigest: a password given in its place would be a mistake."""
    user, _, hashed = text.partition(":")
    try:
        raw = base64.b64decode(hashed, validate=True)
    except binascii.Error:
        raw = b""
    if not user or len(raw) != 20:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not user:BASE64(SHA1(user:password)) (ZooKeeper's digest form)"
        )
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """One line, not the usage screen: bad flags are named, that is all."""
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="coord-server", description="Run one coord member.")
    p.add_argument("--id", type=positive, default=1, help="this member's id (default 1)")
    p.add_argument("--members", type=members, help="ID=HOST:PORT,... the same on every member")
    p.add_argument("--data-dir", type=Path, default=Path("coord-data"))
    p.add_argument("--listen", type=host_port, help="HOST:PORT (default: this member's address)")
    p.add_argument("--min-session-timeout-ms", type=positive, default=2000)
    p.add_argument("--max-session-timeout-ms", type=positive, default=60000)
    p.add_argument("--max-data-bytes", type=positive, default=1 << 20)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--heartbeat-ms", type=positive, default=100, help="leader heartbeat period")
    p.add_argument(
        "--election-timeout-ms", type=positive, default=1000,
        help="a follower that hears no leader for a random time in [T, 2T] runs for leader",
    )  # fmt: skip
    p.add_argument(
        "--request-timeout-ms", type=positive, default=6000,
        help="a write no leader has taken by then fails with connection loss (and never applies)",
    )  # fmt: skip
    p.add_argument(
        "--enable-fault-injection", action="store_true",
        help="serve Admin.SetFaults (partitions, drops, delays, clock skew): for tests only",
    )  # fmt: skip
    p.add_argument(
        "--superuser-digest", type=digest, metavar="USER:BASE64",
        help="the super user's digest id (ZooKeeper's superDigest): it bypasses every ACL",
    )  # fmt: skip
    p.add_argument(
        "--log-retention", type=positive, default=10_000,
        help="applied log slots kept for lagging members; further behind takes a snapshot",
    )  # fmt: skip
    return p


def check_port_free(host: str, port: int) -> None:
    """Say plainly that the port is taken, before gRPC logs its own noise."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As gRPC binds: connections of an earlier run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as err:
            raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def cluster_of(args: argparse.Namespace) -> dict[int, tuple[str, int]]:
    cluster = args.members or {args.id: args.listen or ("127.0.0.1", DEFAULT_PORT)}
    if args.id not in cluster:
        raise UsageError(f"--id {args.id} is not in --members")
    if args.min_session_timeout_ms > args.max_session_timeout_ms:
        raise UsageError("--min-session-timeout-ms is above --max-session-timeout-ms")
    return cluster


async def serve(args: argparse.Namespace) -> None:
    cluster = cluster_of(args)
    host, port = args.listen or cluster[args.id]
    address = f"{host}:{port}"
    check_port_free(host, port)
    storage = Storage(args.data_dir)
    limits = Limits(args.min_session_timeout_ms, args.max_session_timeout_ms, args.max_data_bytes)
    paxos = Config(
        heartbeat=args.heartbeat_ms / 1000, election_timeout=args.election_timeout_ms / 1000
    )
    replica = Replica(
        storage, limits, member_id=args.id,
        members={member: f"{h}:{p}" for member, (h, p) in cluster.items()},
        paxos=paxos, log_retention=args.log_retention,
        request_timeout=args.request_timeout_ms / 1000,
    )  # fmt: skip
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )
    services = {
        "Coord": CoordService(replica, address, args.superuser_digest or ""),
        "Peer": PeerService(replica),
        "Admin": AdminService(replica, faults_enabled=args.enable_fault_injection),
    }
    for module in (client_pb2, peer_pb2, admin_pb2):
        for name, descriptor in module.DESCRIPTOR.services_by_name.items():
            add_service(server, services[name], descriptor)
    try:
        server.add_insecure_port(address)
    except RuntimeError:
        storage.close()
        raise UsageError(f"cannot listen on {address}: address in use or not available") from None
    await replica.start()
    await server.start()
    _tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"coord-server ready: member {args.id} serving {address}, data in {args.data_dir}",
        flush=True,
    )
    await stop.wait()
    log.info("stopping")
    await replica.stop()  # waiting requests end with connection loss
    await server.stop(grace=0.5)
    storage.close()


def _tune_gc() -> None:
    """The tree holds millions of long-lived objects without cycles; Python's
    cyclic collector would scan them over and over (a third of the time of
    an apply with 300,000 znodes). What is loaded now is frozen out of its
    reach, and collections of young objects are made rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def server_main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(args))
    except (UsageError, StorageError) as err:
        print(f"coord-server: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    server_main()
