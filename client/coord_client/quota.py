"""`QuotaInfo`: a subtree's hard quota (ZooKeeper 3.7+'s) with its usage now."""

from __future__ import annotations

from dataclasses import dataclass

from coord_api.wire import client_pb2 as pb


@dataclass(frozen=True, slots=True)
class QuotaInfo:
    """The limits (None: no limit) and the usage they bound: the znodes in
    the subtree, its root included, and the bytes of their data."""

    path: str
    count: int | None
    bytes: int | None
    used_count: int
    used_bytes: int

    @classmethod
    def from_wire(cls, quota: pb.Quota) -> QuotaInfo:
        return cls(
            quota.path,
            quota.count if quota.HasField("count") else None,
            quota.bytes if quota.HasField("bytes") else None,
            quota.used_count,
            quota.used_bytes,
        )

    def to_dict(self) -> dict[str, object]:
        """For JSON output."""
        return {
            "path": self.path,
            "count": self.count,
            "bytes": self.bytes,
            "used_count": self.used_count,
            "used_bytes": self.used_bytes,
        }
