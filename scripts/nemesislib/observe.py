"""What the cluster holds once the faults are healed: the tree read by
linearizable reads, ephemerals whose sessions should be gone, and whether the
members converged on one state."""

from __future__ import annotations

import time

import grpc

from coord.wire import admin_pb2, admin_pb2_grpc
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client
from coord_client.exceptions import NoNodeError
from nemesislib.checks import Anomaly, Node, Tree
from nemesislib.worker import EPH_ROOT, LOCK_PATH
from tests.servers import Cluster

CONVERGE_PATIENCE = 60.0
RPC_TIMEOUT = 10.0
EPHEMERAL_ROOTS = (EPH_ROOT, LOCK_PATH)  # where the workload makes ephemerals


def read_tree(hosts: str, roots: tuple[str, ...] = ("/",)) -> Tree:
    """Every znode under `roots` but /coord, by linearizable reads, level by level."""
    client = Client(hosts=hosts, timeout=10.0, linearizable_reads=True)
    client.start(timeout=30)
    try:
        tree: Tree = {}
        level = list(roots)
        while level:
            calls = [(p, client.get_async(p), client.get_children_async(p)) for p in level]
            level = []
            for path, data, children in calls:
                try:
                    value, stat = data.get(timeout=60)
                    names = children.get(timeout=60)
                except NoNodeError:
                    continue  # an ephemeral that went meanwhile
                tree[path] = Node(value.decode(), stat.version, stat.ephemeralOwner)
                prefix = path.rstrip("/")
                level += [f"{prefix}/{n}" for n in names if f"{prefix}/{n}" != "/coord"]
        return tree
    finally:
        client.stop()


def wait_for_ephemerals(
    hosts: str, live: set[int], patience: float, problem: str
) -> Anomaly | None:
    """Wait until every ephemeral is owned by a session in `live`; the
    anomaly `problem` if some are not after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        orphans = {
            path: node.owner
            for path, node in read_tree(hosts, EPHEMERAL_ROOTS).items()
            if node.owner and node.owner not in live
        }
        if not orphans:
            return None
        if time.monotonic() > deadline:
            shown = [f"{p} (session {o})" for p, o in sorted(orphans.items())]
            return Anomaly(problem, f"{len(orphans)} after {patience:.0f}s", tuple(shown[:20]))
        time.sleep(0.5)


def converge(cluster: Cluster, channels: dict[int, grpc.Channel]) -> tuple[int, Anomaly | None]:
    """Every member's (zxid, digest) after a sync on it, until they agree: the
    zxid they agree at, or the anomaly. Two digests at the same zxid that
    differ are a divergence at once."""
    seen: dict[int, dict[str, set[int]]] = {}
    deadline = time.monotonic() + CONVERGE_PATIENCE
    while time.monotonic() < deadline:
        digests = {}
        try:
            for member_id, channel in channels.items():
                client_pb2_grpc.CoordStub(channel).Sync(
                    pb.SyncRequest(path="/"), timeout=RPC_TIMEOUT
                )
                digests[member_id] = admin_pb2_grpc.AdminStub(channel).StateDigest(
                    admin_pb2.DigestRequest(),
                    timeout=RPC_TIMEOUT,
                    metadata=cluster.members[member_id].admin_metadata("StateDigest"),
                )
        except grpc.RpcError:
            time.sleep(0.5)
            continue
        for member_id, digest in digests.items():
            seen.setdefault(digest.zxid, {}).setdefault(digest.sha256, set()).add(member_id)
        split = {zxid: shas for zxid, shas in seen.items() if len(shas) > 1}
        if split:
            zxid, shas = min(split.items())
            return 0, Anomaly(
                "members diverged",
                f"different states at zxid {zxid}",
                tuple(f"members {sorted(m)}: {sha}" for sha, m in shas.items()),
            )
        if len({(d.zxid, d.sha256) for d in digests.values()}) == 1:
            return next(iter(digests.values())).zxid, None
        time.sleep(0.5)
    return 0, Anomaly("members did not converge", f"within {CONVERGE_PATIENCE:.0f}s")
