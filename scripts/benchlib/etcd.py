"""The optional third system (--etcd): a 3-member etcd 3.4 cluster (Debian's
etcd-server) on loopback ports, and a session for it with the calls the load
generator makes on coord_client and kazoo (create_async, set_async, get_async,
each answered through rawlink), over etcd's gRPC KV API.

The client is the bench's own: benchlib/etcd_kv.proto, etcd's KV service with
its field numbers, compiled in memory when first used (grpc.protos_and_services,
from grpcio-tools), so no generated code is kept in the tree. The PyPI etcd3
package is not used: its generated modules fail with current protobuf."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from benchlib.systems import ProcessGroup, ServerProcess, install_package, wait_for
from tests.servers import free_port

ETCD = Path("/usr/bin/etcd")
PROTO = "benchlib/etcd_kv.proto"  # found on sys.path, as an import is
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]  # a connection per session


def protos() -> tuple[Any, Any]:
    """The message classes and the KV stub of benchlib/etcd_kv.proto."""
    return grpc.protos_and_services(PROTO)


class Pending:
    """One request in flight, answered like kazoo's and coord_client's async
    results: rawlink(callback) calls back with this object once done."""

    def __init__(self, future: grpc.Future, ok: Callable[[Any], bool] | None = None) -> None:
        self.future, self.ok = future, ok

    @property
    def exception(self) -> BaseException | None:
        error = self.future.exception()
        if error is None and self.ok is not None and not self.ok(self.future.result()):
            return KeyError("etcd: the key already exists")
        return error

    def successful(self) -> bool:
        return self.exception is None

    def rawlink(self, callback: Callable[[Pending], None]) -> None:
        self.future.add_done_callback(lambda _: callback(self))

    def get(self, timeout: float | None = None) -> Any:
        result = self.future.result(timeout=timeout)
        if (error := self.exception) is not None:
            raise error
        return result


class EtcdSession:
    """A gRPC channel to etcd (the first reachable of `hosts`): etcd's
    counterpart of a session. Reads are etcd's default, linearizable Range."""

    def __init__(self, hosts: list[str], timeout: float = 10.0) -> None:
        self.pb, services = protos()
        self.channel = grpc.insecure_channel("ipv4:" + ",".join(hosts), CHANNEL_OPTIONS)
        self.stub = services.KVStub(self.channel)
        self.timeout = timeout

    def start(self, timeout: float = 30.0) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def stop(self) -> None:
        self.channel.close()

    def close(self) -> None:
        """Nothing left once the channel is closed (kazoo needs both calls)."""

    def create_async(self, path: str, value: bytes = b"") -> Pending:
        """Put `path` only if absent (a Txn on its create revision), failing
        as a ZooKeeper create of an existing znode does."""
        pb, key = self.pb, path.encode()
        absent = pb.Compare(
            key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0
        )
        put = pb.RequestOp(request_put=pb.PutRequest(key=key, value=value))
        request = pb.TxnRequest(compare=[absent], success=[put])
        return Pending(self.stub.Txn.future(request, timeout=self.timeout), lambda r: r.succeeded)

    def set_async(self, path: str, value: bytes) -> Pending:
        request = self.pb.PutRequest(key=path.encode(), value=value)
        return Pending(self.stub.Put.future(request, timeout=self.timeout))

    def get_async(self, path: str) -> Pending:
        request = self.pb.RangeRequest(key=path.encode())
        return Pending(self.stub.Range.future(request, timeout=self.timeout))

    def create(self, path: str, value: bytes = b"") -> None:
        self.create_async(path, value).get(timeout=self.timeout)


def install_etcd(log: Callable[[str], None]) -> None:
    """Debian's etcd-server (etcd 3.4) unless present."""
    install_package("etcd-server", ETCD, log)


class EtcdMember(ServerProcess):
    """One etcd process with its own data directory and log; client and peer
    URLs on loopback ports, the rest etcd's defaults (its WAL is fsynced
    before every acknowledged write; heartbeat 100 ms, election 1,000 ms)."""

    def __init__(self, number: int, root: Path) -> None:
        self.name = f"etcd{number}"
        self.dir = root / self.name
        self.client_port, self.peer_port = free_port(), free_port()

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, cluster: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(ETCD), "--name", self.name, "--data-dir", str(self.dir / "data"),
            "--listen-client-urls", f"http://{self.address}",
            "--advertise-client-urls", f"http://{self.address}",
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", "coord-bench",
            "--logger", "zap", "--log-outputs", "stderr",
        ]  # fmt: skip
        self.spawn(command, self.dir / "server.log")

    def serves(self) -> bool:
        """Whether it answers a linearizable read (it has a leader)."""
        session = EtcdSession([self.address], timeout=1.0)
        try:
            session.get_async("/").get()
        except grpc.RpcError:
            return False
        finally:
            session.stop()
        return True


class EtcdSystem(ProcessGroup):
    """A 3-member etcd cluster, measured on the four workloads only."""

    name = kind = "etcd"
    only_workloads = True
    one_at_a_time = False

    def __init__(self, root: Path) -> None:
        self.members: dict[int, EtcdMember] = {i: EtcdMember(i, root / "etcd") for i in (1, 2, 3)}
        self.version = "?"

    def start(self) -> None:
        cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members.values())
        for member in self.members.values():
            member.start(cluster)
        for member in self.members.values():
            wait_for(member.serves, 120, f"{member.name} did not serve a linearizable read")
        answer = subprocess.run([str(ETCD), "--version"], capture_output=True, text=True)
        self.version = answer.stdout.split()[2] if answer.returncode == 0 else "?"

    def client(self, hosts: list[str]) -> EtcdSession:
        return EtcdSession(hosts)
