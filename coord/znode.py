"""A znode as the tree holds it, and its wire Stat.

Storage persists each one under its path; a transaction copies one before
it first touches it, so that a failed multi can put it back. Most znodes
are small leaves with the open ACL, so the record shares what it can.
"""

from __future__ import annotations

from dataclasses import dataclass

from coord.acl import OPEN_ACL, Acl
from coord_api.wire import client_pb2 as pb

NO_CHILDREN: frozenset[str] = frozenset()


@dataclass(slots=True)
class Znode:
    data: bytes
    czxid: int
    mzxid: int
    pzxid: int
    ctime: int
    mtime: int
    version: int = 0
    cversion: int = 0
    aversion: int = 0
    ephemeral_owner: int = 0
    # Children ever created under this node: the next sequential suffix.
    # ZooKeeper 3.8 numbers by creations, so this parts ways with cversion
    # (creations and deletions) after the first delete.
    sequence: int = 0
    # Most znodes are leaves: they share one empty frozenset (an empty set
    # would cost 216 bytes each) until their first child.
    children: set[str] | frozenset[str] = NO_CHILDREN
    acl: Acl = OPEN_ACL  # shared with every node of the same ACL (Tree.acls)

    def add_child(self, name: str) -> None:
        if self.children:
            self.children.add(name)
        else:
            self.children = {name}

    def remove_child(self, name: str) -> None:
        if self.children:
            self.children.discard(name)

    def stat(self) -> pb.Stat:
        return pb.Stat(
            czxid=self.czxid,
            mzxid=self.mzxid,
            pzxid=self.pzxid,
            ctime=self.ctime,
            mtime=self.mtime,
            version=self.version,
            cversion=self.cversion,
            aversion=self.aversion,
            ephemeral_owner=self.ephemeral_owner,
            data_length=len(self.data),
            num_children=len(self.children),
        )

    def copy(self) -> Znode:
        return Znode(
            self.data, self.czxid, self.mzxid, self.pzxid, self.ctime, self.mtime,
            self.version, self.cversion, self.aversion, self.ephemeral_owner,
            self.sequence, set(self.children) if self.children else NO_CHILDREN, self.acl,
        )  # fmt: skip
