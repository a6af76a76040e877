"""ZooKeeper's requests and replies as the session's own messages
(coord_api's client.proto): a request frame becomes one ClientMessage for
the Session, and each ServerMessage the Session sends becomes a reply frame,
with ZooKeeper's op codes, error codes and records. Pure: no I/O.

The session answers requests in the order they came, so the door keeps
each request's xid and op code (a `Sent`) in that order and pairs them with
the answers as they come; the Session itself sees no ZooKeeper xids (its
own xids make the SDK's retried writes apply once; a ZooKeeper client
retries no write, and its xids follow rules of their own)."""

from __future__ import annotations

from dataclasses import dataclass, field

from coord.zk.codes import (
    CODES,
    CONTAINER,
    EPHEMERAL,
    PASSWORD_BYTES,
    PROTOCOL_VERSION,
    SEQUENTIAL,
    SYNC_CONNECTED,
    UNSERVED_FLAGS,
    WATCHER_TYPES,
    Code,
    Op,
    Xid,
)
from coord.zk.jute import JuteError, Reader, Writer
from coord_api.wire import client_pb2 as pb


@dataclass(slots=True)
class Sent:
    """A request the session will answer: its xid, its op, and for a multi
    the op of each of its parts (how each result is written)."""

    xid: int
    op: int
    parts: list[int] = field(default_factory=list)
    at: float = 0.0  # when the door read it (monotonic seconds)


@dataclass(slots=True)
class Answer:
    """A request the door answers itself, yet in its turn after those before
    it: with `result` as if the session had made it (a refusal's Error, a
    multi's results with the refused op's error among them, or checkWatches'
    OK)."""

    result: pb.Error | pb.MultiResponse

    @property
    def kind(self) -> str:
        return "multi" if isinstance(self.result, pb.MultiResponse) else "error"


def _refused(code: int, reason: str) -> Answer:
    return Answer(pb.Error(code=code, message=reason))


@dataclass(slots=True)
class Rearm:
    """SetWatches: the watches a reconnecting client holds, and the last
    zxid it saw."""

    last_zxid: int
    watches: list[pb.WatchRegistration]


@dataclass(slots=True)
class Request:
    """One request frame: its header and what it asks."""

    sent: Sent
    ask: pb.ClientMessage | Answer | Rearm


# ---------------------------------------------------------------- connect


def connect(body: bytes) -> pb.Connect:
    """A ConnectRequest (with or without its trailing readOnly flag)."""
    reader = Reader(body)
    reader.int("the protocol version")
    last_zxid = reader.long("the last zxid seen")
    timeout_ms = reader.int("the session timeout")
    session_id = reader.long("the session id")
    password = reader.buffer("the password") or b""
    if reader.remaining:
        reader.bool("the read-only flag")  # coord serves no read-only mode: answered False
    reader.end("the connect request")
    return pb.Connect(
        session_id=session_id, password=password, timeout_ms=timeout_ms, last_zxid=last_zxid
    )


def connected(message: pb.Connected) -> bytes:
    return (
        Writer()
        .int(PROTOCOL_VERSION)
        .int(message.timeout_ms)
        .long(message.session_id)
        .buffer(message.password)
        .bool(False)
        .frame()
    )


def expired() -> bytes:
    """A ConnectResponse refusing a session that has expired: a timeout of 0
    is how a ZooKeeper client learns it."""
    writer = Writer().int(PROTOCOL_VERSION).int(0).long(0)
    return writer.buffer(bytes(PASSWORD_BYTES)).bool(False).frame()


# --------------------------------------------------------------- requests


def request(body: bytes) -> Request:
    """A request frame (RequestHeader, then its record). JuteError if it is
    not one: the door then ends the connection, as ZooKeeper does."""
    reader = Reader(body)
    xid = reader.int("the xid")
    op = reader.int("the op code")
    sent = Sent(xid, op)
    if op == Op.PING:
        ask: pb.ClientMessage | Answer | Rearm = pb.ClientMessage(ping=pb.Ping())
    elif op == Op.CLOSE:
        ask = pb.ClientMessage(close=pb.Close())
    elif op in (Op.SET_WATCHES, Op.SET_WATCHES2):
        ask = _set_watches(reader, op)
    elif op == Op.MULTI:
        ask = _multi(reader, sent)
    elif op == Op.CHECK_WATCHES:
        # The Java client asks before it drops one of its watchers; the
        # watch stays here (the client's other watchers may share it).
        _path(reader)
        reader.int("the watcher type")
        ask = Answer(pb.Error(code=pb.OK))
    elif op in _READERS:
        ask = _READERS[op](reader)
    else:
        return Request(sent, _refused(pb.UNIMPLEMENTED, f"op code {op} is not served"))
    reader.end(f"the record of op {op}")
    if isinstance(ask, pb.Request):
        ask = pb.ClientMessage(request=ask)
    return Request(sent, ask)


def _strings(reader: Reader, what: str) -> list[str]:
    return [s or "" for s in reader.vector(lambda: reader.string(what), what) or []]


def _acl(reader: Reader) -> pb.ACL:
    perms = reader.int("an ACL's permissions")
    scheme = reader.string("an ACL's scheme") or ""
    ident = reader.string("an ACL's id") or ""
    return pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=ident))


def _acls(reader: Reader) -> list[pb.ACL]:
    return reader.vector(lambda: _acl(reader), "an ACL list") or []


def _path(reader: Reader) -> str:
    return reader.string("the path") or ""


def _create(reader: Reader) -> pb.Request | Answer:
    path = _path(reader)
    data = reader.buffer("the data") or b""
    acl = _acls(reader)
    flags = reader.int("the create flags")
    if flags in UNSERVED_FLAGS:
        return _refused(pb.UNIMPLEMENTED, f"{UNSERVED_FLAGS[flags]} nodes are not served")
    if not 0 <= flags <= EPHEMERAL | SEQUENTIAL and flags != CONTAINER:
        return _refused(pb.BAD_ARGUMENTS, f"unknown create flags {flags}")
    if not acl:  # ZooKeeper's rule; the session would read none as world:anyone
        return _refused(pb.INVALID_ACL, "an empty ACL")
    create = pb.CreateRequest(
        path=path,
        data=data,
        acl=acl,
        ephemeral=bool(flags & EPHEMERAL),
        sequential=bool(flags & SEQUENTIAL),
    )
    return pb.Request(create=create)


def _delete(reader: Reader) -> pb.Request:
    path = _path(reader)
    return pb.Request(delete=pb.DeleteRequest(path=path, version=reader.int("the version")))


def _set_data(reader: Reader) -> pb.Request:
    path = _path(reader)
    data = reader.buffer("the data") or b""
    version = reader.int("the version")
    return pb.Request(set_data=pb.SetDataRequest(path=path, data=data, version=version))


def _check(reader: Reader) -> pb.Request:
    path = _path(reader)
    return pb.Request(check=pb.CheckRequest(path=path, version=reader.int("the version")))


def _watched(kind: str):
    request_type = {
        "get_data": pb.GetDataRequest,
        "exists": pb.ExistsRequest,
        "get_children": pb.GetChildrenRequest,
    }[kind]

    def read(reader: Reader) -> pb.Request:
        path = _path(reader)
        watch = reader.bool("the watch flag")
        return pb.Request(**{kind: request_type(path=path, watch=watch)})

    return read


def _get_acl(reader: Reader) -> pb.Request:
    return pb.Request(get_acl=pb.GetAclRequest(path=_path(reader)))


def _set_acl(reader: Reader) -> pb.Request | Answer:
    path = _path(reader)
    acl = _acls(reader)
    version = reader.int("the version")
    if not acl:
        return _refused(pb.INVALID_ACL, "an empty ACL")
    return pb.Request(set_acl=pb.SetAclRequest(path=path, acl=acl, version=version))


def _sync(reader: Reader) -> pb.Request:
    return pb.Request(sync=pb.SyncRequest(path=_path(reader)))


def _auth(reader: Reader) -> pb.Request:
    reader.int("the auth type")
    scheme = reader.string("the auth scheme") or ""
    credential = reader.buffer("the credential") or b""
    return pb.Request(auth=pb.AuthRequest(scheme=scheme, credential=credential))


def _add_watch(reader: Reader) -> pb.Request | Answer:
    path = _path(reader)
    mode = reader.int("the watch mode")
    if mode not in (pb.PERSISTENT, pb.PERSISTENT_RECURSIVE):
        return _refused(pb.BAD_ARGUMENTS, f"unknown watch mode {mode}")
    return pb.Request(add_watch=pb.AddWatchRequest(path=path, mode=mode))


def _remove_watches(reader: Reader) -> pb.Request | Answer:
    path = _path(reader)
    kind = reader.int("the watcher type")
    if kind not in WATCHER_TYPES:
        return _refused(pb.BAD_ARGUMENTS, f"unknown watcher type {kind}")
    return pb.Request(remove_watch=pb.RemoveWatchRequest(path=path, kind=WATCHER_TYPES[kind]))


_READERS = {
    Op.CREATE: _create,
    Op.CREATE2: _create,
    Op.CREATE_CONTAINER: _create,
    Op.DELETE: _delete,
    Op.SET_DATA: _set_data,
    Op.CHECK: _check,
    Op.GET_DATA: _watched("get_data"),
    Op.EXISTS: _watched("exists"),
    Op.GET_CHILDREN: _watched("get_children"),
    Op.GET_CHILDREN2: _watched("get_children"),
    Op.GET_ACL: _get_acl,
    Op.SET_ACL: _set_acl,
    Op.SYNC: _sync,
    Op.AUTH: _auth,
    Op.ADD_WATCH: _add_watch,
    Op.REMOVE_WATCHES: _remove_watches,
}

# The ops a multi may hold, as the session's Op fields.
_MULTI_PARTS = {
    Op.CREATE: "create",
    Op.CREATE2: "create",
    Op.CREATE_CONTAINER: "create",
    Op.DELETE: "delete",
    Op.SET_DATA: "set_data",
    Op.CHECK: "check",
}


def _multi(reader: Reader, sent: Sent) -> pb.Request | Answer:
    """MultiHeaders, each followed by its op, until one marked done. An op
    refused here fails the multi as the tree fails one: the ops before it
    rolled back, those after it not tried."""
    ops: list[pb.Op] = []
    results: list[pb.OpResult] = []
    while True:
        op = reader.int("a multi header's op code")
        done = reader.bool("a multi header's done flag")
        reader.int("a multi header's error")
        if done:
            break
        if op not in _MULTI_PARTS:
            raise JuteError(f"op code {op} in a multi")
        part = _READERS[op](reader)
        sent.parts.append(op)
        if isinstance(part, Answer):
            results.append(pb.OpResult(error=part.result))
        else:
            kind = _MULTI_PARTS[op]
            ops.append(pb.Op(**{kind: getattr(part, kind)}))
            results.append(pb.OpResult())
    failed = next((n for n, result in enumerate(results) if result.HasField("error")), None)
    if failed is None:
        return pb.Request(multi=pb.MultiRequest(ops=ops))
    for n in range(failed):
        results[n] = _result_error(pb.ROLLED_BACK, "rolled back")
    for n in range(failed + 1, len(results)):
        results[n] = _result_error(pb.RUNTIME_INCONSISTENCY, "not tried")
    return Answer(pb.MultiResponse(results=results))


def _result_error(code: int, reason: str) -> pb.OpResult:
    return pb.OpResult(error=pb.Error(code=code, message=reason))


def _set_watches(reader: Reader, op: int) -> Rearm:
    last_zxid = reader.long("the relative zxid")
    kinds = [pb.DATA, pb.EXISTS, pb.CHILDREN]
    if op == Op.SET_WATCHES2:
        kinds += [pb.PERSISTENT_WATCH, pb.PERSISTENT_RECURSIVE_WATCH]
    watches = [
        pb.WatchRegistration(path=path, kind=kind)
        for kind in kinds
        for path in _strings(reader, "a watched path")
    ]
    return Rearm(last_zxid, watches)


# ---------------------------------------------------------------- replies


def header(xid: int, zxid: int, code: int = Code.OK) -> Writer:
    return Writer().int(xid).long(zxid).int(code)


def _stat(writer: Writer, stat: pb.Stat) -> Writer:
    return (
        writer.long(stat.czxid)
        .long(stat.mzxid)
        .long(stat.ctime)
        .long(stat.mtime)
        .int(stat.version)
        .int(stat.cversion)
        .int(stat.aversion)
        .long(stat.ephemeral_owner)
        .int(stat.data_length)
        .int(stat.num_children)
        .long(stat.pzxid)
    )


def _strings_out(writer: Writer, items) -> Writer:
    writer.int(len(items))
    for item in items:
        writer.string(item)
    return writer


def event(message: pb.WatchEvent) -> bytes:
    return (
        header(Xid.NOTIFICATION, message.zxid)
        .int(message.type)
        .int(SYNC_CONNECTED)
        .string(message.path)
        .frame()
    )


def pong(message: pb.Pong) -> bytes:
    return header(Xid.PING, message.zxid).frame()


def closed(sent: Sent, zxid: int) -> bytes:
    return header(sent.xid, zxid).frame()


def response(sent: Sent, message: pb.Response) -> bytes:
    """The reply to `sent`: an error code alone, or its record."""
    kind = message.WhichOneof("result")
    result = getattr(message, kind) if kind else None
    if kind == "error":
        return header(sent.xid, message.zxid, CODES[result.code]).frame()
    if kind == "exists" and not result.HasField("stat"):
        return header(sent.xid, message.zxid, Code.NO_NODE).frame()
    writer = header(sent.xid, message.zxid)
    if kind == "multi":
        return _multi_results(writer, sent.parts, result).frame()
    _result(writer, sent.op, kind, result)
    return writer.frame()


def _result(writer: Writer, op: int, kind: str, result) -> None:
    """One result's record, as ZooKeeper writes it for `op`."""
    if kind == "create":
        writer.string(result.path)
        if op in (Op.CREATE2, Op.CREATE_CONTAINER):
            _stat(writer, result.stat)
    elif kind in ("set_data", "exists", "set_acl"):
        _stat(writer, result.stat)
    elif kind == "get_data":
        _stat(writer.buffer(result.data), result.stat)
    elif kind == "get_children":
        _strings_out(writer, result.children)
        if op == Op.GET_CHILDREN2:
            _stat(writer, result.stat)
    elif kind == "get_acl":
        writer.int(len(result.acl))
        for acl in result.acl:
            writer.int(acl.perms).string(acl.id.scheme).string(acl.id.id)
        _stat(writer, result.stat)
    elif kind == "sync":
        writer.string(result.path)
    elif kind == "add_watch":
        writer.int(Code.OK)  # an ErrorResponse, which the Java client reads
    # delete, check, auth, remove_watch: the header alone


def _multi_results(writer: Writer, parts: list[int], result: pb.MultiResponse) -> Writer:
    for op, part in zip(parts, result.results, strict=True):
        kind = part.WhichOneof("result")
        if kind == "error":
            code = CODES[part.error.code]
            writer.int(Op.ERROR).bool(False).int(code).int(code)
        else:
            writer.int(op).bool(False).int(Code.OK)
            _result(writer, op, kind, getattr(part, kind))
    return writer.int(-1).bool(True).int(-1)
