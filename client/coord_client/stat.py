"""`ZnodeStat`: ZooKeeper's Stat as kazoo shapes it (field order, convenience names)."""

from __future__ import annotations

from typing import NamedTuple

from coord_api.wire import client_pb2 as pb


class ZnodeStat(NamedTuple):
    """A znode's metadata; times are milliseconds since the epoch, as ZooKeeper's."""

    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int  # ZooKeeper's camelCase names, as kazoo keeps them
    dataLength: int
    numChildren: int
    pzxid: int

    @classmethod
    def from_wire(cls, stat: pb.Stat) -> ZnodeStat:
        # Positional, in field order: one for every answer, and keywords cost double.
        return cls(
            stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion,
            stat.aversion, stat.ephemeral_owner, stat.data_length, stat.num_children, stat.pzxid,
        )  # fmt: skip

    def to_dict(self) -> dict[str, int]:
        """The fields under ZooKeeper's names, for JSON output."""
        return self._asdict()

    @property
    def acl_version(self) -> int:
        return self.aversion

    @property
    def children_version(self) -> int:
        return self.cversion

    @property
    def children_count(self) -> int:
        return self.numChildren

    @property
    def data_length(self) -> int:
        return self.dataLength

    @property
    def created(self) -> float:
        """Creation time in seconds since the epoch."""
        return self.ctime / 1000.0

    @property
    def last_modified(self) -> float:
        """Last modification time in seconds since the epoch."""
        return self.mtime / 1000.0

    @property
    def owner_session_id(self) -> int | None:
        """The owning session of an ephemeral node; None for a persistent one."""
        return self.ephemeralOwner or None

    @property
    def creation_transaction_id(self) -> int:
        return self.czxid

    @property
    def last_modified_transaction_id(self) -> int:
        return self.mzxid
