"""coord-server: one member (README, "Operating a cluster").

With no flags it serves a single-member cluster at 127.0.0.1:7181 with data
in ./coord-data. Bad flags, an unusable data dir or a busy port end it with
one line on stderr and a non-zero exit; SIGINT/SIGTERM stop it cleanly with
exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import socket
import ssl
import sys
from dataclasses import fields
from functools import partial

import grpc
import uvloop

from coord.flags import DEFAULT_PORT, MemberAddress, UsageError, parser
from coord.framed.door import SessionPort
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
from coord.zk.door import ZooKeeperDoor
from coord_api.wire import client_pb2

log = logging.getLogger("coord")

MAX_MESSAGE_BYTES = 64 << 20


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


async def open_door(door: Listener, host: str, port: int, what: str) -> str:
    """Bind a door of our own (not gRPC's): `what` comes in at `host`:`port`.
    Returns where, for the log once every door is bound (a port in use is
    then the one line on stderr)."""
    try:
        await door.bind(host, port)
    except OSError as err:
        raise UsageError(
            f"cannot listen for {what} on {host}:{port}: {err.strerror or err}"
        ) from None
    return f"{what} come in at {host}:{door.port}"


def door_tls(tls: ServerTLS) -> ssl.SSLContext:
    """The client port's TLS for the session port and the ZooKeeper door
    (Python's ssl reads the files again)."""
    try:
        return tls.ssl_context()
    except (ssl.SSLError, OSError) as err:
        raise UsageError(
            f"the session port and --zk-listen cannot serve TLS with --tls-cert/--tls-key: {err}"
        ) from None


async def serve(args: argparse.Namespace) -> None:
    cluster = cluster_of(args)
    doors, peer_listen = peer_door(args, cluster)
    trust = member_trust(args, doors, peer_listen)
    host, port = args.listen or (cluster[args.id].host, cluster[args.id].port)
    address = f"{host}:{port}"
    tls = tls_of(args, peers_on_client_port=len(cluster) > 1 and peer_listen is None)
    doors_ssl = door_tls(tls) if tls and (args.zk_listen or args.session_port is not None) else None
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
        doors_ssl, args.zk_4lw, str(args.data_dir),
    )  # fmt: skip
    session_port = SessionPort(member, service.admission, args.superuser_digest or "", doors_ssl)
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
    opened: list[str] = []
    try:
        bind(server, address, tls.credentials() if tls else None)
        if peer_server is not server:
            peer_tls = trust.tls.server_credentials() if trust.tls else None
            bind(peer_server, "{}:{}".format(*peer_listen), peer_tls)
        if not trust.single:
            where = (peer_listen or (host, port))[0]
            opened.append(await open_door(door, where, args.link_port, "peer links"))
        if args.session_port is not None:
            opened.append(
                await open_door(session_port, host, args.session_port, "sessions without gRPC")
            )
            service.session_port = session_port.port
        if args.zk_listen is not None:
            opened.append(await open_door(zk_door, *args.zk_listen, "ZooKeeper clients"))
    except UsageError:
        member.storage.close()
        raise
    for where in opened:
        log.info("%s", where)
    if trust.insecure:
        log.warning("--insecure-peers: anyone who reaches the peer port can act as a member")
    await member.start()
    await door.start()
    await zk_door.start()
    await session_port.start()
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
    await session_port.stop()
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
