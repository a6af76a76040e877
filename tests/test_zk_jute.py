"""The ZooKeeper door's pure parts (coord/zk/jute.py, translate.py,
four_letter.py): what kazoo's own serializers send decodes to the
session's messages, any bytes at all either decode or raise JuteError,
naming what was wrong, and a four-letter word gathers only what it tells."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kazoo.protocol.serialization import (
    Connect,
    Create,
    Delete,
    GetChildren2,
    GetData,
    SetData,
    Transaction,
)
from kazoo.security import OPEN_ACL_UNSAFE

from coord.zk import four_letter, translate
from coord.zk.codes import CODES, Op
from coord.zk.jute import JuteError, Reader
from coord.zk.translate import Answer, Rearm
from coord_api.wire import client_pb2 as pb


def body(request, xid: int = 7) -> bytes:
    """A request as kazoo frames it, without the length."""
    return struct.pack(">ii", xid, request.type) + bytes(request.serialize())


def test_kazoos_connect() -> None:
    sent = Connect(0, 42, 10_000, 0x1234, b"p" * 16, False).serialize()
    assert translate.connect(bytes(sent)) == pb.Connect(
        session_id=0x1234, password=b"p" * 16, timeout_ms=10_000, last_zxid=42
    )


def test_kazoos_requests() -> None:
    create = translate.request(body(Create("/a", b"v", OPEN_ACL_UNSAFE, 3)))
    assert (create.sent.xid, create.sent.op) == (7, Op.CREATE)
    made = create.ask.request.create
    assert (made.path, made.data, made.ephemeral, made.sequential) == ("/a", b"v", True, True)
    assert [(a.perms, a.id.scheme, a.id.id) for a in made.acl] == [(31, "world", "anyone")]
    assert translate.request(body(Delete("/a", 4))).ask.request.delete.version == 4
    set_data = translate.request(body(SetData("/a", b"w", -1))).ask.request.set_data
    assert (set_data.data, set_data.version) == (b"w", -1)
    get = translate.request(body(GetData("/a", True))).ask.request.get_data
    assert (get.path, get.watch) == ("/a", True)
    children = translate.request(body(GetChildren2("/a", False)))
    assert children.sent.op == Op.GET_CHILDREN2 and children.ask.request.HasField("get_children")


def test_kazoos_transaction() -> None:
    txn = Transaction([Create("/t", b"", OPEN_ACL_UNSAFE, 0), Delete("/u", -1)])
    decoded = translate.request(body(txn))
    assert decoded.sent.parts == [Op.CREATE, Op.DELETE]
    assert [op.WhichOneof("op") for op in decoded.ask.request.multi.ops] == ["create", "delete"]


def test_a_refused_op_fails_its_multi_as_the_tree_would() -> None:
    with_ttl = Create("/c", b"", OPEN_ACL_UNSAFE, 5)  # TTL nodes are not served
    txn = Transaction([Create("/a", b"", OPEN_ACL_UNSAFE, 0), with_ttl, Delete("/b", -1)])
    refused = translate.request(body(txn)).ask
    assert isinstance(refused, Answer) and refused.kind == "multi"
    codes = [result.error.code for result in refused.result.results]
    assert codes == [pb.ROLLED_BACK, pb.UNIMPLEMENTED, pb.RUNTIME_INCONSISTENCY]


def strings(*items: str) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(
        struct.pack(">i", len(item)) + item.encode() for item in items
    )


def test_set_watches() -> None:
    """As ZooKeeper's Java client sends them when it reconnects (kazoo does not)."""
    record = struct.pack(">iiq", -8, Op.SET_WATCHES, 9) + strings("/d") + strings("/e")
    rearm = translate.request(record + strings("/c")).ask
    assert isinstance(rearm, Rearm) and rearm.last_zxid == 9
    assert [(w.path, w.kind) for w in rearm.watches] == [
        ("/d", pb.DATA),
        ("/e", pb.EXISTS),
        ("/c", pb.CHILDREN),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\0\0\0\x05ab", "a buffer of 5 bytes runs past the end"),
        (b"\xff\xff\xff\xfe", "negative length -2"),
        (b"\0\0\0\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_what_a_reader_refuses(data: bytes, error: str) -> None:
    reader = Reader(data)
    with pytest.raises(JuteError, match=error):
        reader.string("a buffer")


def test_a_vector_cannot_claim_more_items_than_bytes() -> None:
    reader = Reader(struct.pack(">i", 1 << 30) + b"x" * 8)
    with pytest.raises(JuteError, match="items in 8 bytes"):
        reader.vector(lambda: reader.int(), "a vector")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_jute_error(data: bytes) -> None:
    for decode in (translate.connect, translate.request):
        with contextlib.suppress(JuteError):
            decode(data)


@settings(max_examples=300, deadline=None)
@given(
    op=st.sampled_from([int(op) for op in Op] + [0, 10, 999, -7]),
    rest=st.binary(max_size=120),
)
def test_any_record_after_a_header_decodes_or_raises_jute_error(op: int, rest: bytes) -> None:
    with contextlib.suppress(JuteError):
        translate.request(struct.pack(">ii", 1, op) + rest)


def test_every_error_of_the_session_has_zookeepers_code() -> None:
    assert set(CODES) == set(pb.ErrorCode.values())


def test_ruok_and_a_word_not_let_in_gather_nothing() -> None:
    """The facts (the member's status, the watch counts) are gathered only
    for a word let in that tells them: a flood of ruok costs the member
    nothing more."""

    def facts() -> four_letter.Facts:
        raise AssertionError("facts gathered")

    assert four_letter.answer("ruok", four_letter.DEFAULT_WORDS, facts) == "imok"
    refused = four_letter.answer("wchs", four_letter.DEFAULT_WORDS, facts)
    assert refused == "wchs is not executed because it is not in the whitelist.\n"
