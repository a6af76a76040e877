"""The tree tests' shared parts: request builders, and `Run`, a tree fed as
a leader feeds it (consecutive zxids, a clock that differs from the zxid, so
a swapped Stat field shows). See test_tree_refusals.py, test_tree_stat.py,
test_tree_nodes.py and test_tree_multi.py.
"""

from __future__ import annotations

import copy

from coord.outcome import Applied, EventType
from coord.tree import Tree
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

Code = pb.ErrorCode
CREATED, DELETED, CHANGED, CHILD = (
    EventType.CREATED,
    EventType.DELETED,
    EventType.CHANGED,
    EventType.CHILD,
)
LIMIT = 8  # a small max_data_bytes, so the limit is cheap to cross
MIB = 1 << 20  # the default --max-data-bytes (README, "Limits")
CLEAN = (set(), set(), set())  # take_dirty when nothing changed: nodes, sessions, replies

# ------------------------------------------------------------------ helpers

_FIELD = {
    "CreateRequest": "create",
    "DeleteRequest": "delete",
    "SetDataRequest": "set_data",
    "CheckRequest": "check",
    "SetAclRequest": "set_acl",
    "SetQuotaRequest": "set_quota",
    "DeleteQuotaRequest": "delete_quota",
    "MultiRequest": "multi",
    "OpenSession": "open_session",
    "CloseSession": "close_session",
    "ExpireSession": "expire_session",
}
OPEN = log_pb2.OpenSession(timeout_ms=10_000, password=b"secret")
CLOSE = log_pb2.CloseSession()
EXPIRE = log_pb2.ExpireSession()


def create(path: str, data: bytes = b"", **flags: bool) -> pb.CreateRequest:
    return pb.CreateRequest(path=path, data=data, **flags)


def set_data(path: str, data: bytes = b"", version: int | None = None) -> pb.SetDataRequest:
    return pb.SetDataRequest(path=path, data=data, version=version)


def delete(path: str, version: int | None = None, recursive: bool = False) -> pb.DeleteRequest:
    return pb.DeleteRequest(path=path, version=version, recursive=recursive)


def check(path: str, version: int) -> pb.CheckRequest:
    return pb.CheckRequest(path=path, version=version)


def multi(*ops) -> pb.MultiRequest:
    """A transaction of requests (or ready-made `pb.Op`s, to send odd ones)."""
    return pb.MultiRequest(ops=[op if isinstance(op, pb.Op) else as_op(op) for op in ops])


def as_op(request) -> pb.Op:
    return pb.Op(**{_FIELD[request.DESCRIPTOR.name]: request})


def command(request, session: int = 0, auth=(), **fields: int) -> log_pb2.Command:
    """`fields`: a session write's xid and prev_xid; `auth`: the sender's
    ids, as (scheme, id) pairs."""
    op = {_FIELD[request.DESCRIPTOR.name]: request}
    ids = [pb.Id(scheme=scheme, id=found) for scheme, found in auth]
    return log_pb2.Command(session_id=session, auth=ids, **fields, **op)


def time_of(zxid: int) -> int:
    return 1_700_000_000_000 + 7 * zxid


def state(tree: Tree):
    """Everything a change could touch, copied: nodes with their counters
    and children, sessions with their ephemeral sets."""
    return copy.deepcopy(tree.nodes), copy.deepcopy(tree.sessions)


def changed(stat: pb.Stat, **fields: int) -> pb.Stat:
    new = pb.Stat()
    new.CopyFrom(stat)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def error_code(applied: Applied) -> int:
    assert isinstance(applied.result, pb.Error), applied.result
    return applied.result.code


class Run:
    """A tree fed by a leader: each command gets the next zxid and its time."""

    def __init__(self, tree: Tree | None = None) -> None:
        self.tree = tree if tree is not None else Tree()

    def __call__(self, request, session: int = 0, auth=(), **fields: int) -> Applied:
        zxid = self.tree.zxid + 1
        return self.tree.apply(zxid, time_of(zxid), command(request, session, auth, **fields))

    def ok(self, request, session: int = 0, auth=(), **fields: int):
        """Apply a command that must succeed; its result."""
        applied = self(request, session, auth, **fields)
        assert applied.ok, applied.result
        return applied.result

    def refused(self, request, code: int, session: int = 0, auth=(), **fields: int) -> None:
        """Apply a command that must be refused with `code`, report no
        events, change nothing and leave storage nothing to write."""
        before = state(self.tree)
        self.tree.take_dirty()
        applied = self(request, session, auth, **fields)
        assert error_code(applied) == code, applied.result
        assert applied.events == []
        assert state(self.tree) == before
        assert self.tree.take_dirty() == CLEAN

    def stat(self, path: str) -> pb.Stat:
        return self.tree.get_data(path).stat

    def gone(self, path: str) -> bool:
        return not self.tree.exists(path).HasField("stat")


def sequential(run: Run, path: str, times: int = 1) -> list[str]:
    return [run.ok(create(path, sequential=True)).path for _ in range(times)]
