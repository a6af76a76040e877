"""ZooKeeper's numbers on the wire, and coord's errors as ZooKeeper's codes:
op codes, reserved xids, error codes, create flags, watcher types."""

from __future__ import annotations

from enum import IntEnum

from coord_api.wire import client_pb2 as pb

PROTOCOL_VERSION = 0
PASSWORD_BYTES = 16  # what a ZooKeeper client sends back when it reconnects


class Op(IntEnum):
    """ZooKeeper's op codes (ZooDefs.OpCode)."""

    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    CREATE_CONTAINER = 19
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    AUTH = 100
    SET_WATCHES = 101
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    CLOSE = -11
    ERROR = -1  # a failed op's place in a multi's results


class Xid(IntEnum):
    """ZooKeeper's reserved xids."""

    NOTIFICATION = -1
    PING = -2
    AUTH = -4
    SET_WATCHES = -8


class Code(IntEnum):
    """ZooKeeper's error codes (KeeperException.Code) that coord answers."""

    OK = 0
    RUNTIME_INCONSISTENCY = -2
    CONNECTION_LOSS = -4
    MARSHALLING_ERROR = -5
    UNIMPLEMENTED = -6
    OPERATION_TIMEOUT = -7
    BAD_ARGUMENTS = -8
    NO_NODE = -101
    NO_AUTH = -102
    BAD_VERSION = -103
    NO_CHILDREN_FOR_EPHEMERALS = -108
    NODE_EXISTS = -110
    NOT_EMPTY = -111
    SESSION_EXPIRED = -112
    INVALID_ACL = -114
    AUTH_FAILED = -115
    NOT_READ_ONLY = -119
    QUOTA_EXCEEDED = -125


CODES = {
    pb.OK: Code.OK,
    pb.NO_NODE: Code.NO_NODE,
    pb.NODE_EXISTS: Code.NODE_EXISTS,
    pb.BAD_VERSION: Code.BAD_VERSION,
    pb.NOT_EMPTY: Code.NOT_EMPTY,
    pb.NO_CHILDREN_FOR_EPHEMERALS: Code.NO_CHILDREN_FOR_EPHEMERALS,
    pb.BAD_ARGUMENTS: Code.BAD_ARGUMENTS,
    pb.DATA_TOO_LARGE: Code.BAD_ARGUMENTS,
    # In a multi's results ZooKeeper marks the ops before the failed one so.
    pb.ROLLED_BACK: Code.OK,
    pb.RUNTIME_INCONSISTENCY: Code.RUNTIME_INCONSISTENCY,
    pb.SESSION_EXPIRED: Code.SESSION_EXPIRED,
    pb.CONNECTION_LOSS: Code.CONNECTION_LOSS,
    pb.OPERATION_TIMEOUT: Code.OPERATION_TIMEOUT,
    pb.NO_AUTH: Code.NO_AUTH,
    pb.AUTH_FAILED: Code.AUTH_FAILED,
    pb.NOT_READY: Code.CONNECTION_LOSS,
    pb.UNIMPLEMENTED: Code.UNIMPLEMENTED,
    pb.INVALID_ACL: Code.INVALID_ACL,
    pb.NOT_READ_ONLY: Code.NOT_READ_ONLY,
    pb.QUOTA_EXCEEDED: Code.QUOTA_EXCEEDED,
    pb.LIMIT_EXCEEDED: Code.BAD_ARGUMENTS,
}

# CreateMode flags: persistent, ephemeral, persistent and ephemeral sequential;
# a container is made as a persistent node (coord does not remove it once
# empty, as ZooKeeper does some time after); TTL nodes are not served.
EPHEMERAL, SEQUENTIAL, CONTAINER = 1, 2, 4
UNSERVED_FLAGS = {5: "persistent with TTL", 6: "persistent sequential with TTL"}

# WatcherType of removeWatches, as the session's WatchKind.
WATCHER_TYPES = {
    1: pb.CHILDREN,
    2: pb.DATA,
    3: pb.ANY,
    4: pb.PERSISTENT_WATCH,
    5: pb.PERSISTENT_RECURSIVE_WATCH,
}
SYNC_CONNECTED = 3  # the KeeperState a watch event carries
