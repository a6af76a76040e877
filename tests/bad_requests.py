"""Hypothesis strategies for bad input (test_bad_input_fuzz.py): paths valid,
invalid and reserved, data, versions and sessions, and requests of every
kind spoiled by one poison that alone is reason enough to refuse them, unary
or for the Session stream, as well as raw bytes for a unary method.
"""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from coord_api.wire import client_pb2 as pb
from tests.badinput import (
    EXISTING,
    LIMIT,
    TREE,
    UNARY,
    VERSIONS,
    WITH_CHILDREN,
    WRITE_METHODS,
    path_ok,
    reserved,
)

PLAIN_NAMES = st.text("abcdefgxyz0123456789-_", min_size=1, max_size=6)
BAD_CHARS = st.one_of(
    st.integers(0, 0x1F),
    st.integers(0x7F, 0x9F),
    st.integers(0xE000, 0xF8FF),
    st.sampled_from([0xFFF0, 0xFFFF]),
).map(chr)
VALID_PATHS = st.one_of(
    st.sampled_from(EXISTING),
    st.lists(PLAIN_NAMES, min_size=1, max_size=4).map(lambda names: "/" + "/".join(names)),
    st.tuples(st.sampled_from([*TREE]), PLAIN_NAMES).map(lambda t: f"{t[0]}/{t[1]}"),
)
RESERVED_PATHS = st.one_of(
    st.just("/coord"),
    st.lists(PLAIN_NAMES, min_size=1, max_size=3).map(lambda n: "/coord/" + "/".join(n)),
)


@st.composite
def invalid_paths(draw) -> str:
    path = draw(VALID_PATHS)
    how = draw(st.sampled_from(["empty", "relative", "trailing", "double", "dot", "char", "any"]))
    if how == "empty":
        path = ""
    elif how == "relative":
        path = path.lstrip("/") or draw(PLAIN_NAMES)
    elif how == "trailing":
        path = path + "/" * draw(st.integers(1, 2))
    elif how in ("double", "dot"):
        segments = path.split("/")
        at = draw(st.integers(1, len(segments)))
        extra = "" if how == "double" else draw(st.sampled_from([".", ".."]))
        path = "/".join([*segments[:at], extra, *segments[at:]])
    elif how == "char":
        at = draw(st.integers(0, len(path)))
        path = path[:at] + draw(BAD_CHARS) + path[at:]
    else:
        path = draw(st.text(max_size=12).filter(lambda p: not path_ok(p)))
    assert not path_ok(path), path
    return path


INVALID_PATHS = invalid_paths()


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each drawn `weight` times as often as weight 1."""
    indices = [index for index, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: choices[index][1])


def parses(message_type, raw: bytes) -> bool:
    try:
        message_type.FromString(raw)
    except Exception:
        return False
    return True


RANDOM_PATHS = weighted(
    (5, VALID_PATHS), (2, INVALID_PATHS), (1, RESERVED_PATHS), (1, st.text(max_size=16))
)
SMALL_DATA = st.binary(max_size=64)
BIG_DATA = st.one_of(
    st.binary(min_size=LIMIT + 1, max_size=LIMIT + 64),
    # huge: past the 1 MiB default limit too (a few sizes: cheap to send and to shrink)
    st.sampled_from([LIMIT + 1, 64 << 10, (1 << 20) + 1, 3 << 20]).map(lambda n: b"\xab" * n),
)
DATA = st.one_of(SMALL_DATA, st.binary(min_size=LIMIT - 8, max_size=LIMIT), BIG_DATA)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
VERSIONS_ANY = st.one_of(st.none(), st.sampled_from([-1, 0, 1, 2, 3]), INT32)
# Never -1 nor a version any node has: such a version cannot match.
IMPOSSIBLE_VERSIONS = INT32.filter(lambda v: v != -1 and v not in VERSIONS.values())
STALE_VERSIONS = st.integers(-(2**31), -2)  # no node ever has these
ENUMS = st.one_of(st.integers(-2, 6), INT32)
BAD_SESSIONS = st.builds(
    pb.SessionRef,
    session_id=INT64.filter(bool),
    password=st.binary(max_size=20),
)
SESSIONS = weighted((3, st.just(pb.SessionRef())), (1, BAD_SESSIONS))


def with_version(message, version: int | None):
    if version is not None:
        message.version = version
    return message


# Requests that must be refused: a base that would mostly succeed on its own
# (or, now and then, random fields), spoiled by one poison that alone is
# reason enough to refuse it. A benign base gives each poison its own test.
NEW_PATHS = st.tuples(
    st.sampled_from(["/", "/app", "/app/config", "/app/config/leaf", "/svc", "/empty"]),
    PLAIN_NAMES,  # no name here is taken: their letters are not in these names
).map(lambda t: ("" if t[0] == "/" else t[0]) + "/" + t[1])
LEAVES = ["/app/config/leaf", "/app/\u00fcn\u00ef \u65e5\u672c", "/svc/eph", "/empty"]


def benign(draw) -> bool:
    return draw(st.integers(0, 3)) > 0


def poison_shared(draw, message, poison: str) -> bool:
    """Apply a poison more than one kind of request takes: an invalid path, a
    reserved one, the root, a node that is not there, an impossible version,
    data too large, a session that is not open. False when `poison` is the
    request's own."""
    if poison == "path":
        message.path = draw(INVALID_PATHS)
    elif poison == "reserved":
        message.path = draw(RESERVED_PATHS)
    elif poison == "root":
        message.path = "/"
    elif poison == "missing":
        message.path = draw(NEW_PATHS)
    elif poison == "version":
        message.version = draw(IMPOSSIBLE_VERSIONS)
    elif poison == "big":
        message.data = draw(BIG_DATA)
    elif poison == "bad-session":
        message.session.CopyFrom(draw(BAD_SESSIONS))
    else:
        return False
    return True


@st.composite
def failing_creates(draw, unary: bool) -> pb.CreateRequest:
    if benign(draw):
        message = pb.CreateRequest(
            path=draw(NEW_PATHS),
            data=draw(SMALL_DATA),
            ephemeral=not unary and draw(st.booleans()),  # the stream has a session
            sequential=draw(st.booleans()),
            make_parents=draw(st.booleans()),
        )
    else:
        message = pb.CreateRequest(
            path=draw(RANDOM_PATHS),
            data=draw(DATA),
            ephemeral=draw(st.booleans()),
            sequential=draw(st.booleans()),
            make_parents=draw(st.booleans()),
            session=draw(SESSIONS),  # on the stream the session field is ignored
        )
    poisons = ["path", "reserved", "root", "big", "missing-parent", "exists", "ephemeral-parent"]
    poison = draw(st.sampled_from(poisons + (["no-session", "bad-session"] if unary else [])))
    if poison_shared(draw, message, poison):
        return message
    if poison == "missing-parent":
        message.path = "/missing-" + "/".join(draw(st.lists(PLAIN_NAMES, min_size=2, max_size=3)))
        message.make_parents = False
    elif poison == "exists":
        message.path = draw(st.sampled_from(EXISTING))
        message.sequential = False
    elif poison == "ephemeral-parent":
        message.path = "/svc/eph/" + "/".join(draw(st.lists(PLAIN_NAMES, min_size=1, max_size=3)))
    else:  # no-session
        message.ephemeral = True
        message.ClearField("session")
    return message


@st.composite
def failing_sets(draw, unary: bool) -> pb.SetDataRequest:
    if benign(draw):
        path = draw(st.sampled_from(EXISTING))
        version = draw(st.sampled_from([None, -1, VERSIONS[path]]))
        message = with_version(pb.SetDataRequest(path=path, data=draw(SMALL_DATA)), version)
    else:
        message = with_version(
            pb.SetDataRequest(path=draw(RANDOM_PATHS), data=draw(DATA), session=draw(SESSIONS)),
            draw(VERSIONS_ANY),
        )
    poisons = ["path", "reserved", "missing", "version", "big"] + (["bad-session"] * unary)
    poison = draw(st.sampled_from(poisons))
    poison_shared(draw, message, poison)  # a set has no poison of its own
    return message


@st.composite
def failing_deletes(draw, unary: bool) -> pb.DeleteRequest:
    if benign(draw):
        path = draw(st.sampled_from(LEAVES + WITH_CHILDREN[1:]))
        version = draw(st.sampled_from([None, -1, VERSIONS[path]]))
        message = with_version(pb.DeleteRequest(path=path, recursive=True), version)
    else:
        message = with_version(
            pb.DeleteRequest(
                path=draw(RANDOM_PATHS), recursive=draw(st.booleans()), session=draw(SESSIONS)
            ),
            draw(VERSIONS_ANY),
        )
    poisons = ["path", "reserved", "root", "missing", "version", "children"]
    poison = draw(st.sampled_from(poisons + (["bad-session"] if unary else [])))
    if not poison_shared(draw, message, poison):  # children
        message.path = draw(st.sampled_from(WITH_CHILDREN))
        message.recursive = False
    return message


@st.composite
def any_ops(draw) -> pb.Op:
    """An op that may well succeed on its own: a failing multi rolls it back."""
    kind = draw(st.sampled_from(["create", "delete", "set_data", "check"]))
    path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS, RANDOM_PATHS))
    if kind == "create":
        return pb.Op(
            create=pb.CreateRequest(
                path=path,
                data=draw(SMALL_DATA),
                ephemeral=draw(st.booleans()),
                sequential=draw(st.booleans()),
                make_parents=draw(st.booleans()),
            )
        )
    if kind == "delete":
        message = pb.DeleteRequest(path=path, recursive=draw(st.booleans()))
        return pb.Op(delete=with_version(message, draw(st.sampled_from([None, -1, 0]))))
    if kind == "set_data":
        message = pb.SetDataRequest(path=path, data=draw(SMALL_DATA))
        return pb.Op(set_data=with_version(message, draw(st.sampled_from([None, -1, 0]))))
    return pb.Op(check=pb.CheckRequest(path=path, version=draw(st.sampled_from([-1, 0, 2]))))


@st.composite
def poison_ops(draw) -> pb.Op:
    """An op refused whatever the ops before it did."""
    how = draw(st.sampled_from(["empty", "path", "reserved", "root", "big", "stale", "root-new"]))
    if how == "empty":
        return pb.Op()
    if how in ("path", "reserved"):
        path = draw(INVALID_PATHS if how == "path" else RESERVED_PATHS)
        kind = draw(st.sampled_from(["create", "delete", "set_data", "check"]))
        message = {
            "create": pb.CreateRequest,
            "delete": pb.DeleteRequest,
            "set_data": pb.SetDataRequest,
            "check": pb.CheckRequest,
        }[kind](path=path)
        if kind == "check" and how == "reserved":  # checking /coord is no write
            message.version = draw(STALE_VERSIONS)
        return pb.Op(**{kind: message})
    if how == "root":
        return pb.Op(delete=pb.DeleteRequest(path="/", recursive=draw(st.booleans())))
    if how == "root-new":
        return pb.Op(create=pb.CreateRequest(path="/", sequential=False))
    if how == "big":
        path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS))
        if draw(st.booleans()):
            return pb.Op(set_data=pb.SetDataRequest(path=path, data=draw(BIG_DATA)))
        return pb.Op(create=pb.CreateRequest(path=path, data=draw(BIG_DATA)))
    path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS))
    version = draw(STALE_VERSIONS)
    kind = draw(st.sampled_from(["delete", "set_data", "check"]))
    if kind == "delete":
        return pb.Op(delete=pb.DeleteRequest(path=path, version=version))
    if kind == "set_data":
        return pb.Op(set_data=pb.SetDataRequest(path=path, version=version))
    return pb.Op(check=pb.CheckRequest(path=path, version=version))


@st.composite
def failing_multis(draw, unary: bool) -> pb.MultiRequest:
    ops = draw(st.lists(any_ops(), max_size=4))
    ops.insert(draw(st.integers(0, len(ops))), draw(poison_ops()))
    session = draw(SESSIONS) if unary else draw(st.one_of(st.none(), BAD_SESSIONS))
    return pb.MultiRequest(ops=ops, session=session)


def reads(unary: bool):
    """Reads with random fields: they may succeed; they change nothing."""
    min_zxid = st.integers(-(2**63), 1)  # never ahead of the member: no 5 s wait
    sessions = SESSIONS if unary else st.one_of(st.none(), BAD_SESSIONS)
    common = {
        "path": RANDOM_PATHS,
        "watch": st.booleans(),
        "session": sessions,
        "min_zxid": min_zxid,
    }
    return st.one_of(
        st.builds(pb.GetDataRequest, **common).map(lambda m: ("GetData", "get_data", m)),
        st.builds(pb.ExistsRequest, **common).map(lambda m: ("Exists", "exists", m)),
        st.builds(pb.GetChildrenRequest, **common).map(
            lambda m: ("GetChildren", "get_children", m)
        ),
        st.builds(pb.SyncRequest, path=RANDOM_PATHS).map(lambda m: ("Sync", "sync", m)),
    )


def unary_writes():
    return st.one_of(
        failing_creates(unary=True).map(lambda m: ("Create", m)),
        failing_sets(unary=True).map(lambda m: ("SetData", m)),
        failing_deletes(unary=True).map(lambda m: ("Delete", m)),
        failing_multis(unary=True).map(lambda m: ("Multi", m)),
    )


@st.composite
def failing_watches(draw) -> pb.AddWatchRequest:
    message = pb.AddWatchRequest(
        path=draw(VALID_PATHS), mode=draw(st.sampled_from([0, 1])), session=pb.SessionRef()
    )
    if not benign(draw):
        message = pb.AddWatchRequest(
            path=draw(RANDOM_PATHS), mode=draw(ENUMS), session=draw(SESSIONS)
        )
    poison = draw(st.sampled_from(["path", "mode", "bad-session"]))
    if not poison_shared(draw, message, poison):  # mode
        message.mode = draw(st.one_of(st.integers(2, 2**31 - 1), st.integers(-(2**31), -1)))
    return message


def unary_others():
    return st.one_of(
        st.builds(pb.OpenSessionRequest, timeout_ms=INT32).map(lambda m: ("OpenSession", m)),
        SESSIONS.map(lambda m: ("KeepAlive", m)),
        SESSIONS.map(lambda m: ("CloseSession", m)),
        st.just(("Status", pb.StatusRequest())),
        failing_watches().map(lambda m: ("Watch", m)),
    )


def may_change_tree(method: str, raw: bytes) -> bool:
    """Could these bytes, parsed as `method`'s request, change the tree?
    Conservative: True unless the request is surely refused."""
    if method not in WRITE_METHODS:
        return False
    if not parses(UNARY[method][0], raw):
        return False  # undecodable: refused
    message = UNARY[method][0].FromString(raw)
    if message.session.session_id:
        return False  # no random session is live
    if method == "Multi":
        first = message.ops[0] if message.ops else None
        kind = first.WhichOneof("op") if first is not None else "none"
        return kind != "none" and (kind is not None and path_ok(getattr(first, kind).path))
    return path_ok(message.path) and not reserved(message.path)


@st.composite
def raw_unary(draw) -> tuple[str, bytes]:
    """Random bytes as a whole request: noise, or a request spoiled."""
    method = draw(st.sampled_from(sorted(UNARY)))
    how = draw(st.sampled_from(["noise", "truncated", "bad-utf8", "bad-wire-type"]))
    if how == "noise":
        raw = draw(st.binary(max_size=48))
    else:
        base = draw(st.binary(max_size=24))
        raw = (
            base
            + {
                "truncated": b"\x0a\x7f" + draw(st.binary(max_size=8)),
                "bad-utf8": b"\x0a\x02\xc3\x28",
                "bad-wire-type": bytes(
                    [draw(st.integers(1, 15)) << 3 | draw(st.sampled_from([6, 7]))]
                ),
            }[how]
        )
    assume(not may_change_tree(method, raw))
    if parses(UNARY[method][0], raw):
        parsed = UNARY[method][0].FromString(raw)
        assume(getattr(parsed, "min_zxid", 0) <= 1)  # no 5 s NOT_READY wait
    return method, raw
