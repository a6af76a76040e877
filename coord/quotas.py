"""Hard quotas on subtrees, as ZooKeeper 3.7+ has them: the accounting.

A quota limits the number of znodes in a subtree (its root included) and
the bytes of their data. Its limits live in a znode the tree writes under
/coord/quota, as ZooKeeper's under /zookeeper/quota: the limits of /a/b are
the data of /coord/quota/a/b/coord_limits ("count=10,bytes=-1"), so storage,
snapshots and the state digest carry them as they carry any znode. The usage
(ZooKeeper's StatsTrack) is kept here: counted once when a quota is set or
the tree is loaded, then moved by every node made or removed and every data
change, so no write walks a subtree. A quota never sits above or below
another one, so at most one counts any znode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coord_api import paths
from coord_api.wire import client_pb2 as pb

ROOT = paths.RESERVED + "/quota"
LIMITS = "coord_limits"
NO_LIMIT = -1


@dataclass(slots=True)
class Quota:
    count: int = NO_LIMIT  # znodes allowed, the root included
    bytes: int = NO_LIMIT  # bytes of data allowed
    used_count: int = 0
    used_bytes: int = 0

    def encode(self) -> bytes:
        """The limits znode's data, in ZooKeeper's StatsTrack text form."""
        return b"count=%d,bytes=%d" % (self.count, self.bytes)

    @classmethod
    def decode(cls, raw: bytes) -> Quota:
        fields = dict(item.split("=") for item in raw.decode().split(","))
        return cls(int(fields["count"]), int(fields["bytes"]))


def limits_path(path: str) -> str:
    """The znode that holds the limits of the quota on `path` (not /)."""
    return f"{ROOT}{path}/{LIMITS}"


def limits_error(request: pb.SetQuotaRequest) -> str | None:
    """What is wrong with a set_quota's path (already a writable one) and
    limits, as ZooKeeper's setquota rules them, or None."""
    if request.path == "/":
        return "no quota on /: it holds the service's znodes"
    if not request.HasField("count") and not request.HasField("bytes"):
        return "a quota needs a count or a bytes limit"
    if request.HasField("count") and request.count <= 0:
        return f"a count limit must be above 0, not {request.count}"
    if request.HasField("bytes") and request.bytes < 0:
        return f"a bytes limit must not be negative: {request.bytes}"
    return None


class Quotas:
    """Every quota by the path of its root, with its usage."""

    def __init__(self) -> None:
        self.roots: dict[str, Quota] = {}

    def covering(self, path: str) -> str | None:
        """The root of the quota that counts `path`, if any."""
        while path not in self.roots:
            if path == "/":
                return None
            path = paths.parent(path)
        return path

    def nested(self, path: str) -> str | None:
        """A quota above or below `path` (not on it), which forbids one on it."""
        above = self.covering(paths.parent(path))
        if above is not None:
            return above
        prefix = path + "/"
        return min((root for root in self.roots if root.startswith(prefix)), default=None)

    def refusal(self, changes: Iterable[tuple[str, int, int]]) -> str | None:
        """Why the changes (path, znodes added, bytes added) would take a quota
        past a limit, or None. Only growth is refused: a write that shrinks
        usage goes through even when the quota is already exceeded."""
        growth: dict[str, list[int]] = {}
        for path, count, size in changes:
            root = self.covering(path)
            if root is not None:
                total = growth.setdefault(root, [0, 0])
                total[0] += count
                total[1] += size
        for root, (count, size) in growth.items():
            quota = self.roots[root]
            if count > 0 and quota.count != NO_LIMIT and quota.used_count + count > quota.count:
                return (
                    f"quota of {root} exceeded: {quota.used_count + count} znodes "
                    f"over its limit of {quota.count}"
                )
            if size > 0 and quota.bytes != NO_LIMIT and quota.used_bytes + size > quota.bytes:
                return (
                    f"quota of {root} exceeded: {quota.used_bytes + size} bytes "
                    f"over its limit of {quota.bytes}"
                )
        return None

    def charge(self, path: str, count: int, size: int) -> None:
        """Count a change at `path` against the quota above it, if any."""
        if self.roots:
            root = self.covering(path)
            if root is not None:
                quota = self.roots[root]
                quota.used_count += count
                quota.used_bytes += size

    def usage(self) -> dict[str, tuple[int, int]]:
        """The usage now, for a transaction to restore when it rolls back."""
        return {root: (q.used_count, q.used_bytes) for root, q in self.roots.items()}

    def restore(self, usage: dict[str, tuple[int, int]]) -> None:
        for root, (count, size) in usage.items():
            self.roots[root].used_count, self.roots[root].used_bytes = count, size

    @classmethod
    def from_znodes(cls, nodes: Mapping[str, Any]) -> Quotas:
        """Rebuild from the tree's znodes (each with `data` and `children`):
        the limits are the leaves named LIMITS under ROOT (a parent of one
        may share its name, never a leaf), and each quota's usage is counted
        in one pass over every znode."""
        quotas = cls()
        suffix = "/" + LIMITS
        for path, node in nodes.items():
            if path.startswith(ROOT + "/") and path.endswith(suffix) and not node.children:
                quotas.roots[path[len(ROOT) : -len(suffix)]] = Quota.decode(node.data)
        if quotas.roots:
            for path, node in nodes.items():
                quotas.charge(path, 1, len(node.data))
        return quotas
