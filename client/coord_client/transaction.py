"""`TransactionRequest`: ops collected, then sent as one all-or-nothing MultiRequest."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from coord_api.wire import client_pb2 as pb
from coord_client import ops
from coord_client.handler import AsyncResult
from coord_client.ops import Call
from coord_client.security import ACL


class TransactionRequest:
    """kazoo's transaction: `commit()` returns one result per op and does not raise
    for a failed op; the failure shows as exception instances in the list
    (RolledBackError before the failing op, RuntimeInconsistency after it)."""

    def __init__(
        self, submit: Callable[[Call], AsyncResult], default_acl: list[ACL] | None = None
    ) -> None:
        """`default_acl` is the client's: the ACL of a create that names none."""
        self._submit = submit
        self._default_acl = default_acl
        self.operations: list[pb.Op] = []
        self.committed = False

    def create(
        self,
        path: str,
        value: bytes = b"",
        acl: object = None,
        ephemeral: bool = False,
        sequence: bool = False,
    ) -> None:
        """Add a create; `acl` as the client's create."""
        acl = self._default_acl if acl is None else acl
        self._add(pb.Op(create=ops.create_request(path, value, ephemeral, sequence, acl=acl)))

    def delete(self, path: str, version: int = -1) -> None:
        self._add(pb.Op(delete=ops.delete_request(path, version)))

    def set_data(self, path: str, value: bytes, version: int = -1) -> None:
        self._add(pb.Op(set_data=ops.set_data_request(path, value, version)))

    def check(self, path: str, version: int) -> None:
        self._add(pb.Op(check=ops.check_request(path, version)))

    def commit_async(self) -> AsyncResult:
        self._check_open()
        self.committed = True
        return self._submit(ops.multi(self.operations))

    def commit(self) -> list[Any]:
        return self.commit_async().get()

    def __enter__(self) -> TransactionRequest:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()

    def _add(self, op: pb.Op) -> None:
        self._check_open()
        self.operations.append(op)

    def _check_open(self) -> None:
        if self.committed:
            raise ValueError("the transaction is already committed")
