"""coord-server: one member (README, "Operating a cluster").

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
import ssl
import sys
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import grpc
import uvloop

from coord.listener import Listener
from coord.member.limits import Limits
from coord.member.member import Member
from coord.paxos import Config
from coord.peers.door import LinkDoor
from coord.peers.transport import PeerTransport
from coord.rpc.admin_service import AdminService
from coord.rpc.guard import add_service
from coord.rpc.member_trust import MemberTrust
from coord.rpc.peer_auth import SecretError, load_secret
from coord.rpc.peer_service import PeerService
from coord.rpc.peer_tls import PeerTls
from coord.rpc.service import CoordService
from coord.rpc.tls import ServerTLS, TLSFileError
from coord.storage import Storage, StorageError
from coord.wire import admin_pb2, peer_pb2
from coord.zk import four_letter
from coord.zk.door import ZooKeeperDoor
from coord_api.wire import client_pb2

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


@dataclass(frozen=True)
class MemberAddress:
    """Where a member serves clients and, if apart, its peers."""

    host: str
    port: int
    peer_port: int | None = None

    @property
    def client(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def peer(self) -> str:
        return f"{self.host}:{self.peer_port}" if self.peer_port else self.client


def member_address(text: str) -> MemberAddress:
    """`host:port` or `host:port/peer_port`."""
    client, sep, peer_port = text.partition("/")
    host, port = host_port(client)
    if sep and not (peer_port.isdigit() and 0 < int(peer_port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT or HOST:PORT/PEER_PORT")
    return MemberAddress(host, port, int(peer_port) if sep else None)


def members(text: str) -> dict[int, MemberAddress]:
    """`1=host:port,2=host:port,...`, each optionally `/peer_port`"""
    parsed: dict[int, MemberAddress] = {}
    for item in text.split(","):
        ident, sep, address = item.partition("=")
        if not sep or not ident.strip().isdigit() or int(ident) < 1:
            raise argparse.ArgumentTypeError(f"{item!r} is not ID=HOST:PORT with ID >= 1")
        if int(ident) in parsed:
            raise argparse.ArgumentTypeError(f"member {ident} is listed twice")
        parsed[int(ident)] = member_address(address.strip())
    return parsed


def port_or_zero(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def four_letter_words(text: str) -> frozenset[str]:
    if text == "*":
        return four_letter.WORDS
    words = frozenset(word.strip() for word in text.split(",") if word.strip())
    unknown = sorted(words - four_letter.WORDS)
    if unknown:
        raise argparse.ArgumentTypeError(f"not a four-letter word of ZooKeeper's: {unknown[0]}")
    return words


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
    p.add_argument(
        "--members", type=members,
        help="ID=HOST:PORT[/PEER_PORT],... the same on every member",
    )  # fmt: skip
    p.add_argument("--data-dir", type=Path, default=Path("coord-data"))
    p.add_argument("--listen", type=host_port, help="HOST:PORT (default: this member's address)")
    p.add_argument(
        "--peer-listen", type=host_port,
        help="serve peers and admin on this HOST:PORT only (default: this member's PEER_PORT)",
    )  # fmt: skip
    p.add_argument(
        "--link-port", type=port_or_zero, default=0,
        help="other members' replication links come in on this port, on the peer door's"
        " host (default 0: a free one, which members learn through the peer door)",
    )  # fmt: skip
    p.add_argument(
        "--cluster-secret-file", type=Path,
        help="members prove to each other that they hold the secret in this file (mode 0600)",
    )  # fmt: skip
    p.add_argument("--peer-tls-cert", type=Path, help="this member's certificate (PEM)")
    p.add_argument("--peer-tls-key", type=Path, help="its private key (PEM)")
    p.add_argument("--peer-tls-ca", type=Path, help="the CA every member's certificate is of")
    p.add_argument(
        "--insecure-peers", action="store_true",
        help="let members (and anyone reaching the peer port) in unauthenticated",
    )  # fmt: skip
    p.add_argument("--min-session-timeout-ms", type=positive, default=2000)
    p.add_argument("--max-session-timeout-ms", type=positive, default=60000)
    p.add_argument("--max-data-bytes", type=positive, default=1 << 20)
    limits = Limits()
    for flag, text in (
        ("--max-request-bytes", "the largest request a client may send (jute.maxbuffer)"),
        ("--max-sessions", "sessions this member serves at once"),
        ("--max-sessions-per-ip", "sessions from one client address (maxClientCnxns)"),
        ("--max-outstanding-per-session", "requests in flight past which a session is not read"),
        ("--max-unread-bytes", "bytes waiting for a client that does not read: it is cut off"),
        ("--max-watches-per-session", "watches one session may hold here"),
        ("--max-multi-ops", "ops in one transaction"),
        ("--max-path-bytes", "bytes in a written or watched path"),
        ("--max-path-depth", "segments in a written path (bounds what make-parents makes)"),
    ):
        default = getattr(limits, flag[2:].replace("-", "_"))
        p.add_argument(flag, type=positive, default=default, help=f"{text} (default {default})")
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
    p.add_argument("--tls-cert", type=Path, help="PEM certificate (chain): serve clients with TLS")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert (unencrypted)")
    p.add_argument(
        "--tls-ca", type=Path,
        help="PEM CA certificate(s): clients must present a certificate it signed (mutual TLS)",
    )  # fmt: skip
    p.add_argument(
        "--zk-listen", type=host_port, metavar="HOST:PORT",
        help="also serve ZooKeeper's own client protocol here (kazoo, zkCli.sh, Curator)",
    )  # fmt: skip
    every, default = (",".join(sorted(w)) for w in (four_letter.WORDS, four_letter.DEFAULT_WORDS))
    p.add_argument(
        "--zk-4lw", type=four_letter_words, default=four_letter.DEFAULT_WORDS, metavar="WORDS",
        help=f"the four-letter words answered there, comma-separated, or * for all of {every}"
        f" (default {default})",
    )  # fmt: skip
    return p


def tls_of(args: argparse.Namespace, peers_on_client_port: bool) -> ServerTLS | None:
    """The client port's TLS, checked before anything starts; None for plaintext."""
    if args.tls_cert is None:
        if args.tls_key is not None or args.tls_ca is not None:
            raise UsageError("--tls-key and --tls-ca need --tls-cert")
        return None
    if args.tls_key is None:
        raise UsageError("--tls-cert needs --tls-key")
    if peers_on_client_port:
        # Members reach each other's Peer service on this same port, in
        # plaintext (member_trust.py): TLS here would cut them off.
        raise UsageError(
            "--tls-cert on a cluster of more than one member needs --peer-listen: "
            "members reach each other on the client port in plaintext otherwise"
        )
    try:
        return ServerTLS.load(args.tls_cert, args.tls_key, args.tls_ca)
    except TLSFileError as err:
        raise UsageError(str(err)) from None


def check_port_free(host: str, port: int) -> None:
    """Say plainly that the port is taken, before gRPC logs its own noise."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As gRPC binds: connections of an earlier run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as err:
            raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def cluster_of(args: argparse.Namespace) -> dict[int, MemberAddress]:
    cluster = args.members or {
        args.id: MemberAddress(*(args.listen or ("127.0.0.1", DEFAULT_PORT)))
    }
    if args.id not in cluster:
        raise UsageError(f"--id {args.id} is not in --members")
    if args.min_session_timeout_ms > args.max_session_timeout_ms:
        raise UsageError("--min-session-timeout-ms is above --max-session-timeout-ms")
    return cluster


def peer_door(
    args: argparse.Namespace, cluster: dict[int, MemberAddress]
) -> tuple[dict[int, str], tuple[str, int] | None]:
    """Every member's door for peers, and where we listen for peers if not
    on the client port."""
    with_ports = [m.peer_port is not None for m in cluster.values()]
    if any(with_ports) and not all(with_ports):
        raise UsageError("give every --members entry a /PEER_PORT, or none")
    if all(with_ports):
        own = cluster[args.id]
        doors = {member: address.peer for member, address in cluster.items()}
        return doors, args.peer_listen or (own.host, own.peer_port)
    if args.peer_listen and len(cluster) > 1:
        raise UsageError("--peer-listen needs --members entries ID=HOST:CLIENT_PORT/PEER_PORT")
    if args.peer_listen:
        return {args.id: "{}:{}".format(*args.peer_listen)}, args.peer_listen
    return {member: address.client for member, address in cluster.items()}, None


def member_trust(
    args: argparse.Namespace, doors: dict[int, str], peer_listen: tuple[str, int] | None
) -> MemberTrust:
    """This member's peer credentials, as the flags give them."""
    tls_files = (args.peer_tls_cert, args.peer_tls_key, args.peer_tls_ca)
    if any(tls_files) and not all(tls_files):
        raise UsageError("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together")
    if all(tls_files) and peer_listen is None:
        raise UsageError("peer TLS needs a peer port of its own (--peer-listen)")
    credentials = all(tls_files) or args.cluster_secret_file is not None
    if credentials and args.insecure_peers:
        raise UsageError("--insecure-peers contradicts --cluster-secret-file and --peer-tls-*")
    if len(doors) > 1 and not credentials and not args.insecure_peers:
        raise UsageError(
            "members must authenticate each other: give --cluster-secret-file or"
            " --peer-tls-cert/--peer-tls-key/--peer-tls-ca (or, unsafely, --insecure-peers)"
        )
    return MemberTrust(
        args.id, doors,
        secret=load_secret(args.cluster_secret_file) if args.cluster_secret_file else None,
        tls=PeerTls.load(*tls_files) if all(tls_files) else None,
        insecure=args.insecure_peers, super_digest=args.superuser_digest or "",
    )  # fmt: skip


def new_server(max_receive_bytes: int = MAX_MESSAGE_BYTES) -> grpc.aio.Server:
    return grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )


def bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> None:
    try:
        if credentials is None:
            server.add_insecure_port(address)
        else:
            server.add_secure_port(address, credentials)
    except RuntimeError:
        raise UsageError(f"cannot listen on {address}: address in use or not available") from None


async def open_door(door: Listener, host: str, port: int, what: str) -> None:
    """Bind a door of our own (not gRPC's): `what` comes in at `host`:`port`."""
    try:
        await door.bind(host, port)
    except OSError as err:
        raise UsageError(
            f"cannot listen for {what} on {host}:{port}: {err.strerror or err}"
        ) from None
    log.info("%s come in at %s:%d", what, host, door.port)


def zk_tls(tls: ServerTLS) -> ssl.SSLContext:
    """The client port's TLS for the ZooKeeper door (Python's ssl reads the files again)."""
    try:
        return tls.ssl_context()
    except (ssl.SSLError, OSError) as err:
        raise UsageError(f"--zk-listen cannot serve TLS with --tls-cert/--tls-key: {err}") from None


async def serve(args: argparse.Namespace) -> None:
    cluster = cluster_of(args)
    doors, peer_listen = peer_door(args, cluster)
    trust = member_trust(args, doors, peer_listen)
    host, port = args.listen or (cluster[args.id].host, cluster[args.id].port)
    address = f"{host}:{port}"
    tls = tls_of(args, peers_on_client_port=len(cluster) > 1 and peer_listen is None)
    zk_ssl = zk_tls(tls) if tls and args.zk_listen else None
    check_port_free(host, port)
    if peer_listen is not None:
        check_port_free(*peer_listen)
    limits = Limits(**{field.name: getattr(args, field.name) for field in fields(Limits)})
    if limits.max_data_bytes > limits.max_request_bytes:
        raise UsageError(
            "--max-data-bytes is above --max-request-bytes: no such value could be sent"
        )
    paxos = Config(
        heartbeat=args.heartbeat_ms / 1000, election_timeout=args.election_timeout_ms / 1000
    )
    member = Member(
        partial(Storage, args.data_dir), partial(PeerTransport, trust), limits,
        member_id=args.id, members={peer: m.client for peer, m in cluster.items()}, trust=trust,
        paxos=paxos, log_retention=args.log_retention,
        request_timeout=args.request_timeout_ms / 1000,
    )  # fmt: skip
    # With a peer port, the client port serves clients only.
    # Requests over --max-request-bytes are refused with their reason when
    # decoded (guard.py); a port of clients only does not even read one of
    # four times that (gRPC refuses it, RESOURCE_EXHAUSTED as well, without
    # our reason). A port shared with peers reads their larger log batches.
    clients_only = peer_listen is not None or len(cluster) == 1
    server = new_server(4 * limits.max_request_bytes if clients_only else MAX_MESSAGE_BYTES)
    peer_server = server if peer_listen is None else new_server()
    service = CoordService(member, address, args.superuser_digest or "")
    add_service(
        server, service, client_pb2.DESCRIPTOR.services_by_name["Coord"], limits.max_request_bytes
    )
    zk_door = ZooKeeperDoor(
        member, service.admission, args.superuser_digest or "",
        zk_ssl, args.zk_4lw, str(args.data_dir),
    )  # fmt: skip
    door = LinkDoor(member, trust)
    add_service(
        peer_server,
        PeerService(member, trust, address, door),
        peer_pb2.DESCRIPTOR.services_by_name["Peer"],
    )
    add_service(
        peer_server,
        AdminService(member, trust, faults_enabled=args.enable_fault_injection),
        admin_pb2.DESCRIPTOR.services_by_name["Admin"],
    )
    servers = [server] if peer_server is server else [server, peer_server]
    try:
        bind(server, address, tls.credentials() if tls else None)
        if peer_server is not server:
            peer_tls = trust.tls.server_credentials() if trust.tls else None
            bind(peer_server, "{}:{}".format(*peer_listen), peer_tls)
        if not trust.single:
            await open_door(door, (peer_listen or (host, port))[0], args.link_port, "peer links")
        if args.zk_listen is not None:
            await open_door(zk_door, *args.zk_listen, "ZooKeeper clients")
    except UsageError:
        member.storage.close()
        raise
    if trust.insecure:
        log.warning("--insecure-peers: anyone who reaches the peer port can act as a member")
    await member.start()
    await door.start()
    await zk_door.start()
    for each in servers:
        await each.start()
    _tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    mode = "" if tls is None else " with TLS" if tls.client_ca is None else " with mutual TLS"
    peers = "" if peer_listen is None else ", peers at {}:{}".format(*peer_listen)
    print(
        f"coord-server ready: member {args.id} serving {address}{mode}{peers},"
        f" data in {args.data_dir}",
        flush=True,
    )
    await stop.wait()
    log.info("stopping")
    await member.stop()  # waiting requests end with connection loss
    await door.stop()
    await zk_door.stop()
    for each in servers:
        await each.stop(grace=0.5)
    await _calls_finished()
    member.storage.close()


async def _calls_finished(timeout: float = 2.0) -> None:
    """Let the tasks of the calls gRPC ended at its stop finish. A call whose
    last write a client never read is ended by the core when the grace runs
    out, and the server's stop can return before the call's task has taken
    that news; `asyncio.run` would then cancel the task, and gRPC logs the
    cancellation as a traceback."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=timeout)


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
        uvloop.run(serve(args))
    except (UsageError, StorageError, SecretError, TLSFileError) as err:
        print(f"coord-server: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    server_main()
