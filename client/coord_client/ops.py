"""Each operation as a wire request plus the way to read its answer.

Arguments are checked here, so a bad path, value or callback is refused
(ValueError/TypeError, as kazoo) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from coord_api.paths import validate_path
from coord_api.wire import client_pb2 as pb
from coord_client.events import WatchedEvent
from coord_client.exceptions import error_from_wire
from coord_client.quota import QuotaInfo
from coord_client.security import ACL, acls_from_wire, acls_to_wire
from coord_client.stat import ZnodeStat

Watcher = Callable[[WatchedEvent], object]


@dataclass(slots=True)  # one per request: a frozen dataclass takes 4x as long to make
class Call:
    """One request ready for the session: the `Request` oneof field it fills,
    its message, and how to turn the matching response message into a result."""

    field: str
    message: Message
    decode: Callable[[Any], Any]
    path: str = ""
    watch: tuple[int, Watcher] | None = None  # (wire WatchKind, callback), kept once answered
    read: bool = False  # linearizable_reads puts a sync in front of it


def checked_value(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"value must be bytes, not {type(value).__name__}")
    return value


def _checked_version(version: object) -> int:
    if not isinstance(version, int) or isinstance(version, bool):
        raise TypeError(f"version must be an int, not {type(version).__name__}")
    return version


def _optional_version(version: object) -> dict[str, int]:
    """The `version` field to set: none for -1 (unconditional)."""
    return {} if _checked_version(version) == -1 else {"version": version}


def _checked_watch(kind: int, watch: object) -> tuple[int, Watcher] | None:
    if watch is None:
        return None
    if not callable(watch):
        raise TypeError("watch must be callable")
    return kind, watch


def create_request(
    path: str,
    value: bytes,
    ephemeral: bool,
    sequence: bool,
    makepath: bool = False,
    acl: object = None,
) -> pb.CreateRequest:
    """`acl` None leaves the wire list empty: the member makes the node open
    to anyone (world:anyone ALL), as kazoo's default."""
    return pb.CreateRequest(
        path=validate_path(path),
        data=checked_value(value),
        ephemeral=bool(ephemeral),
        sequential=bool(sequence),
        make_parents=bool(makepath),
        acl=None if acl is None else acls_to_wire(acl),
    )


def delete_request(path: str, version: int, recursive: bool = False) -> pb.DeleteRequest:
    return pb.DeleteRequest(
        path=validate_path(path), recursive=bool(recursive), **_optional_version(version)
    )


def set_data_request(path: str, value: bytes, version: int) -> pb.SetDataRequest:
    return pb.SetDataRequest(
        path=validate_path(path), data=checked_value(value), **_optional_version(version)
    )


def check_request(path: str, version: int) -> pb.CheckRequest:
    return pb.CheckRequest(path=validate_path(path), version=_checked_version(version))


def _true(_: Message) -> bool:
    return True


def _created_path(response: pb.CreateResponse) -> str:
    return response.path


def _created_path_and_stat(response: pb.CreateResponse) -> tuple[str, ZnodeStat]:
    return response.path, ZnodeStat.from_wire(response.stat)


def _stat(response: pb.SetDataResponse) -> ZnodeStat:
    return ZnodeStat.from_wire(response.stat)


def _data_and_stat(response: pb.GetDataResponse) -> tuple[bytes, ZnodeStat]:
    return response.data, ZnodeStat.from_wire(response.stat)


def _stat_or_none(response: pb.ExistsResponse) -> ZnodeStat | None:
    return ZnodeStat.from_wire(response.stat) if response.HasField("stat") else None


def _children(response: pb.GetChildrenResponse) -> list[str]:
    return list(response.children)


def _children_and_stat(response: pb.GetChildrenResponse) -> tuple[list[str], ZnodeStat]:
    return list(response.children), ZnodeStat.from_wire(response.stat)


def _synced_path(response: pb.SyncResponse) -> str:
    return response.path


def _acls_and_stat(response: pb.GetAclResponse) -> tuple[list[ACL], ZnodeStat]:
    return acls_from_wire(response.acl), ZnodeStat.from_wire(response.stat)


_OP_RESULTS: dict[str, Callable[[Any], Any]] = {
    "create": _created_path,
    "delete": _true,
    "set_data": _stat,
    "check": _true,
}


def _op_result(result: pb.OpResult) -> Any:
    """One transaction result as kazoo gives it: a failure is an exception instance."""
    kind = result.WhichOneof("result")
    if kind == "error":
        return error_from_wire(result.error)
    return _OP_RESULTS[kind](getattr(result, kind))


def _op_results(response: pb.MultiResponse) -> list[Any]:
    return [_op_result(result) for result in response.results]


def create(
    path: str,
    value: bytes = b"",
    ephemeral: bool = False,
    sequence: bool = False,
    makepath: bool = False,
    include_data: bool = False,
    acl: object = None,
) -> Call:
    request = create_request(path, value, ephemeral, sequence, makepath, acl)
    decode = _created_path_and_stat if include_data else _created_path
    return Call("create", request, decode, path)


def delete(path: str, version: int = -1, recursive: bool = False) -> Call:
    return Call("delete", delete_request(path, version, recursive), _true, path)


def set_data(path: str, value: bytes, version: int = -1) -> Call:
    return Call("set_data", set_data_request(path, value, version), _stat, path)


def get_data(path: str, watch: Watcher | None = None) -> Call:
    kept = _checked_watch(pb.DATA, watch)
    request = pb.GetDataRequest(path=validate_path(path), watch=kept is not None)
    return Call("get_data", request, _data_and_stat, path, kept, read=True)


def exists(path: str, watch: Watcher | None = None) -> Call:
    # EXISTS until the answer shows the node is there (then it is a DATA watch).
    kept = _checked_watch(pb.EXISTS, watch)
    request = pb.ExistsRequest(path=validate_path(path), watch=kept is not None)
    return Call("exists", request, _stat_or_none, path, kept, read=True)


def get_children(path: str, watch: Watcher | None = None, include_data: bool = False) -> Call:
    kept = _checked_watch(pb.CHILDREN, watch)
    request = pb.GetChildrenRequest(path=validate_path(path), watch=kept is not None)
    decode = _children_and_stat if include_data else _children
    return Call("get_children", request, decode, path, kept, read=True)


def sync(path: str) -> Call:
    return Call("sync", pb.SyncRequest(path=validate_path(path)), _synced_path, path)


def get_acls(path: str) -> Call:
    return Call(
        "get_acl", pb.GetAclRequest(path=validate_path(path)), _acls_and_stat, path, read=True
    )


def set_acls(path: str, acls: object, version: int = -1) -> Call:
    request = pb.SetAclRequest(
        path=validate_path(path), acl=acls_to_wire(acls), **_optional_version(version)
    )
    return Call("set_acl", request, _stat, path)


def _quota(response: pb.SetQuotaResponse | pb.GetQuotaResponse) -> QuotaInfo:
    return QuotaInfo.from_wire(response.quota)


def _checked_limit(name: str, limit: object, least: int) -> dict[str, int]:
    """The limit field to set: none for None."""
    if limit is None:
        return {}
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError(f"{name} must be an int, not {type(limit).__name__}")
    if limit < least:
        raise ValueError(f"{name} must be at least {least}, not {limit}")
    return {name: limit}


def set_quota(path: str, count: int | None = None, bytes: int | None = None) -> Call:
    limits = {**_checked_limit("count", count, 1), **_checked_limit("bytes", bytes, 0)}
    if not limits:
        raise ValueError("a quota needs a count or a bytes limit")
    return Call("set_quota", pb.SetQuotaRequest(path=validate_path(path), **limits), _quota, path)


def get_quota(path: str) -> Call:
    request = pb.GetQuotaRequest(path=validate_path(path))
    return Call("get_quota", request, _quota, path, read=True)


def delete_quota(path: str) -> Call:
    return Call("delete_quota", pb.DeleteQuotaRequest(path=validate_path(path)), _true, path)


def auth(scheme: str, credential: str) -> Call:
    """Prove an identity to the session (ZooKeeper's addauth); kazoo's types."""
    if not isinstance(scheme, str):
        raise TypeError("scheme must be a str")
    if not isinstance(credential, str):
        raise TypeError("credential must be a str")
    return Call("auth", pb.AuthRequest(scheme=scheme, credential=credential.encode()), _true)


def multi(ops: list[pb.Op]) -> Call:
    return Call("multi", pb.MultiRequest(ops=ops), _op_results)


def add_watch(path: str, watch: Watcher, recursive: bool = False) -> Call:
    kind, mode = (
        (pb.PERSISTENT_RECURSIVE_WATCH, pb.PERSISTENT_RECURSIVE)
        if recursive
        else (pb.PERSISTENT_WATCH, pb.PERSISTENT)
    )
    kept = _checked_watch(kind, watch)
    if kept is None:
        raise TypeError("watch must be callable")
    request = pb.AddWatchRequest(path=validate_path(path), mode=mode)
    return Call("add_watch", request, _true, path, kept)


def remove_watch(path: str, kind: int) -> Call:
    """Drop this session's server-side watch of `kind` (a wire WatchKind) on `path`."""
    request = pb.RemoveWatchRequest(path=validate_path(path), kind=kind)
    return Call("remove_watch", request, _true, path)
