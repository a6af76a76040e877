"""Hard quotas held to Apache ZooKeeper's own (Debian's 3.8.0, driven through
kazoo, its quota nodes written as zkCli's setquota -N/-B writes them): the
same writes under a quota get the same answers and leave the same usage,
except where the README says coord differs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from coord_client import Client
from tests.servers import ServerProcess

zookeeper = pytest.importorskip("tests.zookeeper", reason="tests/zookeeper.py is on branch zk-acl")

# Where coord departs from ZooKeeper on purpose (README, Quotas): ZooKeeper
# checks each op of a transaction against the state before the transaction
# (a delete makes no room; two creates may both take the last slot), and
# refuses a write that shrinks usage but leaves it over the limit.
DIFFERENCES = {
    "tx delete b, create c": ("RolledBackError QuotaExceededError", "ok ok"),
    "children of /q after it": (["a", "b"], ["a", "c"]),
    "tx create c, create d": ("ok ok", "RolledBackError QuotaExceededError"),
    "children of /q at the end": (["a", "c", "d"], ["a"]),
    "set /r shrinks, still over": ("QuotaExceededError", "ok"),
}


def outcome(step: Callable[[], Any]) -> str:
    """ "ok", or the name of what was raised (kazoo's and coord's agree)."""
    try:
        result = step()
    except Exception as exc:  # either client's error, named the same
        return type(exc).__name__
    if isinstance(result, list):  # a transaction's results
        return " ".join(type(r).__name__ if isinstance(r, Exception) else "ok" for r in result)
    return "ok"


def transaction(client: Any, *ops: Callable[[Any], Any]) -> Callable[[], Any]:
    def commit() -> Any:
        tx = client.transaction()
        for op in ops:
            op(tx)
        return tx.commit()

    return commit


def scenario(
    client: Any,
    set_quota: Callable[[str, int, int], None],
    usage: Callable[[str], tuple[int, int]],
) -> dict[str, object]:
    """The same writes on either service; `set_quota(path, count, bytes)`
    (-1: no limit) and `usage(path)` are each service's own."""
    seen: dict[str, object] = {}
    client.create("/q", b"1234")
    client.create("/q/a", b"5")
    set_quota("/q", 3, -1)
    seen["usage of /q once set"] = usage("/q")
    seen["create /q/b"] = outcome(lambda: client.create("/q/b"))
    seen["create /q/c"] = outcome(lambda: client.create("/q/c"))
    seen["create /q/a/c/d, made parents"] = outcome(
        lambda: client.create("/q/a/c/d", makepath=True)
    )
    seen["tx delete b, create c"] = outcome(
        transaction(client, lambda tx: tx.delete("/q/b"), lambda tx: tx.create("/q/c"))
    )
    seen["children of /q after it"] = sorted(client.get_children("/q"))
    for child in set(client.get_children("/q")) - {"a"}:
        client.delete(f"/q/{child}")  # both back to /q and /q/a: one slot left
    seen["tx create c, create d"] = outcome(
        transaction(client, lambda tx: tx.create("/q/c"), lambda tx: tx.create("/q/d"))
    )
    seen["children of /q at the end"] = sorted(client.get_children("/q"))
    client.create("/r", b"123456")
    set_quota("/r", -1, 2)  # below the usage already: taken
    seen["usage of /r once set"] = usage("/r")
    seen["set /r shrinks, still over"] = outcome(lambda: client.set("/r", b"123"))
    seen["set /r shrinks under"] = outcome(lambda: client.set("/r", b"1"))
    seen["create /r/x, no data"] = outcome(lambda: client.create("/r/x"))
    seen["create /r/y, 2 bytes"] = outcome(lambda: client.create("/r/y", b"12"))
    seen["usage of /r"] = usage("/r")
    client.delete("/r", recursive=True)
    seen["usage of /r once deleted"] = usage("/r")
    seen["create /r again, 3 bytes"] = outcome(lambda: client.create("/r", b"123"))
    seen["create /r again, 1 byte"] = outcome(lambda: client.create("/r", b"1"))
    seen["usage of /r at the end"] = usage("/r")
    return seen


@pytest.fixture(scope="module")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One standalone ZooKeeper that enforces quotas (off by default)."""
    reason = zookeeper.unavailable()
    if reason:
        pytest.skip(f"Debian's ZooKeeper cannot run: {reason}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JAVA_TOOL_OPTIONS", "-Dzookeeper.enforceQuota=true")
        server = zookeeper.ZooKeeper(tmp_path_factory.mktemp("zookeeper"), "super:unused")
        server.start()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def _zookeeper_run(address: str) -> dict[str, object]:
    client = KazooClient(hosts=address)
    client.start(timeout=30)

    def set_quota(path: str, count: int, size: int) -> None:
        """What zkCli's setquota -N/-B writes (SetQuotaCommand.createQuota)."""
        client.ensure_path(f"/zookeeper/quota{path}")
        limits = f"count=-1,bytes=-1,countHardLimit={count},byteHardLimit={size}"
        client.create(f"/zookeeper/quota{path}/zookeeper_limits", limits.encode())
        client.create(f"/zookeeper/quota{path}/zookeeper_stats", b"count=0,bytes=0")

    def usage(path: str) -> tuple[int, int]:
        stats = client.get(f"/zookeeper/quota{path}/zookeeper_stats")[0].decode()
        fields = dict(item.split("=") for item in stats.split(","))
        return int(fields["count"]), int(fields["bytes"])

    try:
        return scenario(client, set_quota, usage)
    finally:
        client.stop()
        client.close()


def _coord_run(address: str) -> dict[str, object]:
    client = Client(address)
    client.start(timeout=30)

    def set_quota(path: str, count: int, size: int) -> None:
        client.set_quota(path, count=None if count < 0 else count, bytes=None if size < 0 else size)

    def usage(path: str) -> tuple[int, int]:
        quota = client.get_quota(path)
        return quota.used_count, quota.used_bytes

    try:
        return scenario(client, set_quota, usage)
    finally:
        client.stop()


def test_quotas_answer_as_zookeepers(zk_server: Any, server: ServerProcess) -> None:
    theirs, ours = _zookeeper_run(zk_server.address), _coord_run(server.address)
    assert theirs["create /q/c"] == "QuotaExceededError"  # the quota is enforced there
    differ = {step: (theirs[step], ours[step]) for step in theirs if theirs[step] != ours[step]}
    assert differ == DIFFERENCES
