"""The errors the SDK raises, under kazoo's names so kazoo code catches them unchanged.

Server-reported errors derive from `ZookeeperError` and carry the wire
`ErrorCode` they came from; `error_from_wire` is the one place a wire error
becomes an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord_client.tls import TLSProblem


class CoordError(Exception):
    """Base of every error the SDK raises."""


class CoordTimeoutError(CoordError):
    """A wait ran out: `start()` found no member, or `AsyncResult.get` timed out."""


class TLSError(CoordTimeoutError):
    """`start()` gave up because the connection failed at the TLS layer (a
    CoordTimeoutError, as kazoo's start raises): `problem` says how, with
    what to check."""

    def __init__(self, problem: TLSProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class LockTimeout(CoordError):
    """A lock recipe's `acquire(timeout=...)` gave up."""


class ZookeeperError(CoordError):
    """An error with a wire `ErrorCode`, reported by the server or by the session."""

    code: int = pb.OK


class NoNodeError(ZookeeperError):
    code = pb.NO_NODE


class NodeExistsError(ZookeeperError):
    code = pb.NODE_EXISTS


class BadVersionError(ZookeeperError):
    code = pb.BAD_VERSION


class NotEmptyError(ZookeeperError):
    code = pb.NOT_EMPTY


class NoChildrenForEphemeralsError(ZookeeperError):
    code = pb.NO_CHILDREN_FOR_EPHEMERALS


class BadArgumentsError(ZookeeperError):
    code = pb.BAD_ARGUMENTS


class DataTooLargeError(BadArgumentsError):
    """The value is over the server's --max-data-bytes; nothing changed."""

    code = pb.DATA_TOO_LARGE


class RolledBackError(ZookeeperError):
    """In a failed transaction's results: this op was fine but was undone."""

    code = pb.ROLLED_BACK


class RuntimeInconsistency(ZookeeperError):
    """In a failed transaction's results: this op came after the failing one."""

    code = pb.RUNTIME_INCONSISTENCY


class SessionExpiredError(ZookeeperError):
    """The session is gone: its ephemerals and watches with it."""

    code = pb.SESSION_EXPIRED


class ConnectionClosedError(SessionExpiredError):
    """The client was stopped (or never started)."""


class ConnectionLoss(ZookeeperError):
    """The request's outcome is unknown: no member answered it before the
    session timed out (or a member could not say)."""

    code = pb.CONNECTION_LOSS


class OperationTimeoutError(ZookeeperError):
    code = pb.OPERATION_TIMEOUT


class NoAuthError(ZookeeperError):
    """The session's ids lack the permission the operation needs; nothing changed."""

    code = pb.NO_AUTH


class AuthFailedError(ZookeeperError):
    """The server refused the session's credentials (an unknown scheme or a
    malformed credential) and ended the session."""

    code = pb.AUTH_FAILED


class InvalidACLError(ZookeeperError):
    """An ACL list that is empty, or names an unknown scheme or a bad id."""

    code = pb.INVALID_ACL


class NotReadyError(ZookeeperError):
    """The member has not caught up with what this client has seen: try another."""

    code = pb.NOT_READY


class NotReadOnlyCallError(ZookeeperError):
    """The member can serve only reads now (its disk is full); the write was
    not applied. kazoo's name, for ZooKeeper's read-only servers."""

    code = pb.NOT_READ_ONLY


class UnimplementedError(ZookeeperError):
    code = pb.UNIMPLEMENTED


class QuotaExceededError(ZookeeperError):
    """A write would take a subtree past its hard quota; it was not applied."""

    code = pb.QUOTA_EXCEEDED


class LimitExceededError(ZookeeperError):
    """Over one of the member's limits (sessions, watches, ops in a
    transaction, request size, nodes one request may touch); nothing
    changed. The message names the limit. kazoo has no such error."""

    code = pb.LIMIT_EXCEEDED


_BY_CODE: dict[int, type[ZookeeperError]] = {
    cls.code: cls
    for cls in (
        NoNodeError,
        NodeExistsError,
        BadVersionError,
        NotEmptyError,
        NoChildrenForEphemeralsError,
        BadArgumentsError,
        DataTooLargeError,
        RolledBackError,
        RuntimeInconsistency,
        SessionExpiredError,
        ConnectionLoss,
        OperationTimeoutError,
        NoAuthError,
        AuthFailedError,
        InvalidACLError,
        NotReadyError,
        NotReadOnlyCallError,
        UnimplementedError,
        QuotaExceededError,
        LimitExceededError,
    )
}


def error_from_wire(error: pb.Error) -> ZookeeperError:
    """The exception for a wire `Error`; an unknown code gives a plain ZookeeperError."""
    cls = _BY_CODE.get(error.code, ZookeeperError)
    exc = cls(error.message) if error.message else cls()
    if cls is ZookeeperError:
        exc.code = error.code
    return exc


# kazoo's names for the same classes.
KazooException = CoordError
KazooTimeoutError = CoordTimeoutError
NoNodeException = NoNodeError
NodeExistsException = NodeExistsError
BadVersionException = BadVersionError
NotEmptyException = NotEmptyError
NoChildrenForEphemeralsException = NoChildrenForEphemeralsError
BadArgumentsException = BadArgumentsError
RolledBackException = RolledBackError
RuntimeInconsistencyException = RuntimeInconsistency
SessionExpiredException = SessionExpiredError
ConnectionLossException = ConnectionLoss
OperationTimeoutException = OperationTimeoutError
NoAuthException = NoAuthError
AuthFailedException = AuthFailedError
InvalidACLException = InvalidACLError
UnimplementedException = UnimplementedError
