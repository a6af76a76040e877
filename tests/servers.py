"""Real coord-server processes for tests: free ports, temporary data
directories, readiness awaited on the server's ready line, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from coord.rpc.member_trust import ADMIN
from coord.rpc.peer_auth import load_secret, sign, write_new_secret
from coord.wire import admin_pb2, admin_pb2_grpc
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc

READY_MARK = "coord-server ready"


def _ports_below_the_ephemeral_range() -> range:
    """Ports the kernel never hands out on its own: not to a bind to port
    0, nor as the source port of an outgoing connection."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10_000, max(low, 10_001))


_PORTS = _ports_below_the_ephemeral_range()
_next_port = os.getpid() * 7919 % len(_PORTS)  # processes start far apart
_port_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing is bound to, for a server a test starts.

    Not one the kernel picks (port 0): such a port is free only until the
    server binds it, and meanwhile the kernel may give it to any outgoing
    connection as its source port ("Address already in use" at the
    server's start). Ports below the ephemeral range are never given out
    so; this process hands each out once, in turn, from an offset of its
    own, skipping those bound already."""
    global _next_port
    with _port_lock:
        for _ in range(len(_PORTS)):
            port = _PORTS[_next_port % len(_PORTS)]
            _next_port += 1
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def free_ports_in_a_row(size: int) -> int:
    """A base port with `size` free ports from it (as coord-cluster wants),
    none of which `free_port` hands out later."""
    global _next_port
    for _ in range(50):
        base = free_port()
        with _port_lock:
            _next_port += size - 1  # free_port's turn goes on past them
        probes = [socket.socket() for _ in range(size)]
        try:
            for port, probe in enumerate(probes, start=base):
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return base
    raise RuntimeError(f"no {size} free ports in a row")


@dataclass
class ServerProcess:
    """One coord-server child process; restartable on the same data dir.
    Unless `with_secret` is off, it is given a cluster secret (made next to
    its data dir unless its cluster's is given), which test tools prove for
    Admin calls."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    member_id: int = 1
    with_secret: bool = True
    secret_file: Path | None = None
    peer_port: int | None = None  # its --peer-listen port, if it has one
    zk_port: int | None = None  # its --zk-listen port, if it has one

    def __post_init__(self) -> None:
        if self.secret_file is None:
            self.secret_file = self.data_dir.with_name(self.data_dir.name + ".secret")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def zk_address(self) -> str:
        """Where it serves ZooKeeper's protocol (with `zk_port`)."""
        return f"127.0.0.1:{self.zk_port}"

    @property
    def peer_address(self) -> str:
        """Where it serves Peer and Admin."""
        return f"127.0.0.1:{self.peer_port}" if self.peer_port else self.address

    def admin_metadata(self, method: str) -> tuple[tuple[str, str], ...]:
        """Call metadata proving the cluster secret for one Admin call (as
        a member would sign it)."""
        secret = load_secret(self.secret_file)
        return sign(secret, ADMIN + method, self.member_id, self.member_id)

    def admin(self, method: str, request, timeout: float = 10.0):
        """Call one Admin method on this member, with the secret."""
        with grpc.insecure_channel(self.peer_address) as channel:
            call = getattr(admin_pb2_grpc.AdminStub(channel), method)
            return call(request, timeout=timeout, metadata=self.admin_metadata(method))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "coord.cli",
            "--listen", self.address,
            "--data-dir", str(self.data_dir),
            *(["--cluster-secret-file", str(self.secret_file)] if self.with_secret else []),
            *(["--peer-listen", self.peer_address] if self.peer_port else []),
            *(["--zk-listen", self.zk_address] if self.zk_port else []),
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.output = []
        if self.with_secret and not self.secret_file.exists():
            self.secret_file.parent.mkdir(parents=True, exist_ok=True)
            write_new_secret(self.secret_file)
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready, said_ready = threading.Event(), threading.Event()

        def pump(stream) -> None:
            for line in stream:
                self.output.append(line.rstrip("\n"))
                if READY_MARK in line:
                    said_ready.set()
                    ready.set()
            ready.set()  # the process ended: stop waiting

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        if not ready.wait(timeout) or not said_ready.is_set():
            self.kill()
            raise RuntimeError("coord-server did not start:\n" + "\n".join(self.output))
        return self

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL and reap: the crash the durability tests need."""
        if self.proc is not None:
            self.signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None:
            return 0
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


# Fast failure detection for tests: elections settle in well under a second.
FAST_ELECTIONS = ["--heartbeat-ms", "50", "--election-timeout-ms", "300"]


@dataclass
class Cluster:
    """A cluster of real members on loopback, each restartable on its disk."""

    members: dict[int, ServerProcess]

    @classmethod
    def create(
        cls,
        root: Path,
        size: int,
        *extra_args: str,
        timeouts: list[str] = FAST_ELECTIONS,
        peer_ports: bool = False,
        secret: bool = True,
        zk_ports: bool = False,
    ) -> Cluster:
        """Members on free ports, sharing a secret in `root` unless `secret`
        is off; `timeouts` are the tests' fast elections unless given (an
        empty list keeps the production defaults); with `peer_ports`, each
        serves its peers on a port of its own; with `zk_ports`, each serves
        ZooKeeper's protocol on one."""
        ports = {member_id: free_port() for member_id in range(1, size + 1)}
        peers = {member_id: free_port() if peer_ports else None for member_id in ports}
        spec = ",".join(
            f"{i}=127.0.0.1:{port}" + (f"/{peers[i]}" if peer_ports else "")
            for i, port in ports.items()
        )
        return cls(
            {
                i: ServerProcess(
                    data_dir=root / f"member{i}",
                    port=port,
                    extra_args=["--id", str(i), "--members", spec, *timeouts, *extra_args],
                    member_id=i,
                    with_secret=secret,
                    secret_file=root / "cluster-secret",
                    peer_port=peers[i],
                    zk_port=free_port() if zk_ports else None,
                )
                for i, port in ports.items()
            }
        )

    def start(self) -> Cluster:
        for member in self.members.values():
            member.start()
        return self

    def stop(self) -> None:
        for member in self.members.values():
            member.stop()

    @property
    def hosts(self) -> str:
        return ",".join(m.address for m in self.members.values())

    @property
    def zk_hosts(self) -> str:
        return ",".join(m.zk_address for m in self.members.values())

    def status(self, member_id: int) -> list:
        """Every member's status as `member_id` sees it."""
        with grpc.insecure_channel(self.members[member_id].address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            return list(stub.Status(pb.StatusRequest(), timeout=5).members)

    def own_status(self, member_id: int):
        """The member's view of itself."""
        return next(s for s in self.status(member_id) if s.id == member_id)

    def digests(self) -> set[tuple[int, str]]:
        """Each member's (zxid, state digest) once synced with the leader:
        one pair when every member holds the same state."""
        found = set()
        for member in self.members.values():
            with grpc.insecure_channel(member.address) as channel:
                client_pb2_grpc.CoordStub(channel).Sync(pb.SyncRequest(path="/"), timeout=30)
            digest = member.admin("StateDigest", admin_pb2.DigestRequest())
            found.add((digest.zxid, digest.sha256))
        return found

    @staticmethod
    def wait_until(condition, timeout: float = 30.0) -> None:
        """Poll a condition on the cluster's state until it holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster never reached the state waited for")
            time.sleep(0.05)

    def leader(self, timeout: float = 30.0) -> int:
        """The member every running member follows, once they agree."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [i for i, m in self.members.items() if m.proc and m.proc.poll() is None]
            views = set()
            for member_id in running:
                try:
                    views |= {(s.id, s.leader) for s in self.status(member_id) if s.id == member_id}
                except grpc.RpcError:
                    views.add((member_id, 0))
            leaders = {leader for _, leader in views}
            if len(leaders) == 1 and 0 not in leaders:
                return leaders.pop()
            time.sleep(0.05)
        raise TimeoutError("the members did not agree on a leader")
