"""The systems under test behind one small interface: a 3-member coord
cluster (tests/servers.py, production timeouts; plain, or one of the TLS and
ACL variants of benchlib/security.py) and a 3-server Apache
ZooKeeper 3.8 ensemble (Debian's package), both on loopback ports with their
own temporary data directories and fsync on every acknowledged write (the
optional etcd cluster is in benchlib/etcd.py)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import grpc
from kazoo.client import KazooClient

from benchlib.security import PLAIN, Security, client_kwargs
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client
from tests.servers import Cluster, free_port

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
SLF4J_SIMPLE = Path("/usr/share/java/slf4j-simple.jar")  # gives the JVMs a log file
POLL = 0.02  # seconds between readiness probes: the resolution of the restart time
COUNTERS = (
    "requests", "client_frames_in", "client_frames_out", "peer_frames_out",
    "slots_applied", "commands_applied", "disk_syncs",
)  # fmt: skip


class System(Protocol):
    """What the measurements need from a cluster of three members, 1..3."""

    name: str  # in the report
    kind: str  # the load generators' client: coord, zookeeper or etcd
    version: str
    only_workloads: bool  # etcd, coord's variants: the four workloads only
    one_at_a_time: bool  # also measured one request at a time (benchlib/latency.py)

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def addresses(self) -> list[str]: ...
    def address(self, member: int) -> str: ...
    def server_pids(self) -> list[int]: ...
    def leader(self) -> int: ...
    def kill(self, member: int) -> None: ...
    def restart(self, member: int) -> None: ...
    def restart_until_serving(
        self, member: int, path: str, timeout: float
    ) -> tuple[float, float]: ...
    def client(self, hosts: list[str]) -> Any: ...
    def client_options(self) -> dict[str, str]: ...
    def live_heap_bytes(self) -> list[int] | None: ...
    def counters(self) -> dict[str, int] | None: ...


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true, else fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f}s")
        time.sleep(POLL)


@dataclass
class ProbedCluster(Cluster):
    """tests/servers.py's cluster, probed over the variant's channel (TLS or not)."""

    security: Security = PLAIN

    def status(self, member_id: int) -> list:
        with self.security.channel(self.members[member_id].address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            return list(stub.Status(pb.StatusRequest(), timeout=5).members)


class CoordSystem:
    """A 3-member coord cluster started by tests/servers.py with the default
    (production) heartbeat and election timeouts; `security` says whether its
    clients use TLS and its znodes digest ACLs (the variants run the four
    workloads only: they are there to be compared with plain coord). With
    `peer_ports` the members serve each other on ports of their own, as
    client TLS needs: peers speak plaintext, with the cluster secret."""

    kind = "coord"

    def __init__(
        self,
        root: Path,
        security: Security = PLAIN,
        peer_ports: bool = False,
        zk_ports: bool = False,
    ) -> None:
        self.security = security
        self.name = security.name
        self.only_workloads = security.variant
        # The SDK on the gRPC stream is measured one at a time as well: the
        # session port is there for that.
        self.one_at_a_time = not security.variant or not security.session_port
        self.cluster = ProbedCluster.create(
            root / security.name, 3, *security.server_args(),
            timeouts=[], peer_ports=peer_ports, zk_ports=zk_ports,
        )  # fmt: skip
        self.cluster.security = security
        self.version = metadata.version("coord")

    def start(self) -> None:
        self.cluster.start()
        self.cluster.leader()

    def stop(self) -> None:
        self.cluster.stop()

    def addresses(self) -> list[str]:
        return [m.address for m in self.cluster.members.values()]

    def address(self, member: int) -> str:
        return self.cluster.members[member].address

    def server_pids(self) -> list[int]:
        return [m.pid for m in self.cluster.members.values() if m.proc and m.proc.poll() is None]

    def leader(self) -> int:
        return self.cluster.leader()

    def kill(self, member: int) -> None:
        self.cluster.members[member].kill()

    def restart(self, member: int) -> None:
        self.cluster.members[member].start(timeout=600)
        self.cluster.leader()

    def restart_until_serving(self, member: int, path: str, timeout: float) -> tuple[float, float]:
        """Seconds from exec to the member's ready line, and to the first read
        of `path` it answers (a restarted member serves reads once caught up)."""
        server = self.cluster.members[member]
        began = time.monotonic()
        server.start(timeout=timeout)
        ready = time.monotonic() - began
        with self.security.channel(server.address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)

            def serves() -> bool:
                try:
                    stub.GetData(pb.GetDataRequest(path=path), timeout=1)
                except grpc.RpcError:
                    return False
                return True

            wait_for(serves, timeout, f"coord member {member} did not serve {path}")
        return ready, time.monotonic() - began

    def client(self, hosts: list[str]) -> Client:
        return Client(hosts=",".join(hosts), timeout=10.0, **client_kwargs(self.client_options()))

    def client_options(self) -> dict[str, str]:
        return self.security.client_options()

    def live_heap_bytes(self) -> None:
        """Python frees garbage at once: its RSS already tracks live data."""
        return None

    def counters(self) -> dict[str, int]:
        """The members' traffic counters (see MemberStatus), summed."""
        total: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        for member in self.cluster.members.values():
            with self.security.channel(member.address) as channel:
                reply = client_pb2_grpc.CoordStub(channel).Status(
                    pb.StatusRequest(local_only=True), timeout=10
                )
            for name in COUNTERS:
                total[name] += getattr(reply.members[0], name)
        return total


class ZkDoorSystem(CoordSystem):
    """Plain coord, its clients kazoo through the members' ZooKeeper doors
    (--zk-listen): the four workloads and one request at a time, to set
    beside coord_client's figures and ZooKeeper's."""

    kind = "zookeeper"  # the load generators' client: kazoo

    def __init__(self, root: Path, peer_ports: bool = False) -> None:
        super().__init__(root, Security("coord-zk"), peer_ports, zk_ports=True)
        self.only_workloads = True

    def addresses(self) -> list[str]:
        return [m.zk_address for m in self.cluster.members.values()]

    def address(self, member: int) -> str:
        return self.cluster.members[member].zk_address

    def client(self, hosts: list[str]) -> KazooClient:
        return KazooClient(hosts=",".join(hosts), timeout=10.0)


def install_package(package: str, marker: Path, log: Callable[[str], None]) -> None:
    """apt-get a Debian package unless `marker` (a file it installs) exists."""
    if marker.exists():
        return
    log(f"{marker} is missing: apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", package]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install {package} failed:\n{done.stderr}")


def install_zookeeper(log: Callable[[str], None]) -> None:
    """The Debian package (ZooKeeper 3.8 and a JVM) unless present."""
    install_package("zookeeper", ZK_JAR, log)


def four_letter_word(port: int, word: str = "srvr") -> str | None:
    """ZooKeeper's admin command on the client port; None if nobody answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks).decode(errors="replace")


class ServerProcess:
    """One server process this bench started, stopped by its PID."""

    proc: subprocess.Popen | None = None
    client_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def spawn(self, command: list[str], log_path: Path) -> None:
        with open(log_path, "a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if the process has not gone in 10 s."""
        if self.running:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class ZkMember(ServerProcess):
    """One ZooKeeper server JVM with its own config, data directory and log."""

    def __init__(self, myid: int, root: Path, heap: str) -> None:
        self.myid, self.heap = myid, heap
        self.dir = root / f"zk{myid}"
        self.client_port, self.quorum_port, self.election_port = (free_port() for _ in range(3))

    def configure(self, peers: list[ZkMember]) -> None:
        """zoo.cfg: Debian's sample timings, fsync on (the default, spelled
        out), every 4lw command allowed, no admin web server, loopback only."""
        (self.dir / "data").mkdir(parents=True)
        (self.dir / "data" / "myid").write_text(f"{self.myid}\n")
        lines = [
            "tickTime=2000",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={self.dir / 'data'}",
            f"clientPort={self.client_port}",
            "clientPortAddress=127.0.0.1",
            "forceSync=yes",
            "maxClientCnxns=0",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            *(f"server.{p.myid}=127.0.0.1:{p.quorum_port}:{p.election_port}" for p in peers),
        ]
        (self.dir / "zoo.cfg").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        classpath = ":".join(str(p) for p in (ZK_JAR, SLF4J_SIMPLE) if p.exists())
        command = [
            "java", f"-Xmx{self.heap}", "-cp", classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(self.dir / "zoo.cfg"),
        ]  # fmt: skip
        self.spawn(command, self.dir / "server.log")

    def mode(self) -> str | None:
        """'leader' or 'follower' once the server serves clients, else None."""
        answer = four_letter_word(self.client_port) if self.running else None
        for line in (answer or "").splitlines():
            if line.startswith("Mode: "):
                return line.removeprefix("Mode: ").strip()
        return None


class ProcessGroup:
    """The member processes of a cluster this bench started: ZooKeeper's, etcd's."""

    members: dict[int, ServerProcess]

    def stop(self) -> None:
        for member in self.members.values():
            member.stop()

    def addresses(self) -> list[str]:
        return [m.address for m in self.members.values()]

    def address(self, member: int) -> str:
        return self.members[member].address

    def server_pids(self) -> list[int]:
        return [m.proc.pid for m in self.members.values() if m.running and m.proc]

    def counters(self) -> None:
        """Only coord counts its frames and slots."""
        return None

    def client_options(self) -> dict[str, str]:
        """Plain sessions: the bench runs ZooKeeper and etcd without TLS or ACLs."""
        return {}


class ZooKeeperSystem(ProcessGroup):
    """A 3-server ZooKeeper ensemble, each JVM's heap capped at `heap`."""

    name = kind = "zookeeper"
    only_workloads = False
    one_at_a_time = True

    def __init__(self, root: Path, heap: str) -> None:
        self.root = root / "zookeeper"
        self.members: dict[int, ZkMember] = {i: ZkMember(i, self.root, heap) for i in (1, 2, 3)}
        for member in self.members.values():
            member.configure(list(self.members.values()))
        self.version = "?"

    def start(self) -> None:
        for member in self.members.values():
            member.start()
        self.leader(timeout=120)
        first = four_letter_word(self.members[1].client_port) or ""
        self.version = first.splitlines()[0].removeprefix("Zookeeper version: ").split("-")[0]

    def leader(self, timeout: float = 60.0) -> int:
        """The one running server in Mode: leader, once all running ones serve."""
        found: list[int] = []

        def settled() -> bool:
            modes = {i: m.mode() for i, m in self.members.items() if m.running}
            found[:] = [i for i, mode in modes.items() if mode == "leader"]
            return len(found) == 1 and None not in modes.values()

        wait_for(settled, timeout, "the ZooKeeper ensemble did not settle on a leader")
        return found[0]

    def kill(self, member: int) -> None:
        self.members[member].kill()

    def restart(self, member: int) -> None:
        self.members[member].start()
        self.leader(timeout=600)

    def restart_until_serving(self, member: int, path: str, timeout: float) -> tuple[float, float]:
        """Seconds from exec until `srvr` reports a mode (the server has synced
        with the leader), and to the first read of `path` it answers."""
        server = self.members[member]
        began = time.monotonic()
        server.start()
        wait_for(lambda: server.mode() is not None, timeout, f"ZooKeeper {member} did not serve")
        ready = time.monotonic() - began
        client = self.client([server.address])
        try:
            client.start(timeout=timeout)
            client.get(path)
        finally:
            client.stop()
            client.close()
        return ready, time.monotonic() - began

    def client(self, hosts: list[str]) -> Any:
        return KazooClient(hosts=",".join(hosts), timeout=10.0)

    def live_heap_bytes(self) -> list[int] | None:
        """Java heap in use after a full GC, per server: what the tree itself
        takes, beside an RSS that follows the collector's sizing. Needs jcmd
        (a JDK); None without it."""
        jcmd = shutil.which("jcmd")
        if jcmd is None:
            return None
        commands = self.root / "jcmd-commands"
        commands.write_text("GC.run\nGC.heap_info\n")
        runs = [  # in parallel: each jcmd is a JVM start of its own
            subprocess.Popen([jcmd, str(p), "-f", str(commands)], stdout=subprocess.PIPE, text=True)
            for p in self.server_pids()
        ]
        used = []
        for run in runs:
            output, _ = run.communicate()
            match = re.search(r"used (\d+)K", output)
            if run.returncode != 0 or match is None:
                return None
            used.append(int(match.group(1)) * 1024)
        return used
