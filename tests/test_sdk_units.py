"""The SDK's pieces that need no server: types, argument checks, frames, results."""

from __future__ import annotations

import threading

import pytest

from coord_api.wire import client_pb2 as pb
from coord_client import EventType, KazooState, WatchedEvent, ZnodeStat, exceptions, ops, stream
from coord_client.channel import parse_hosts
from coord_client.client import Client
from coord_client.exceptions import error_from_wire
from coord_client.handler import AsyncResult
from coord_client.stream import MAX_FRAME_BYTES, Outbox
from coord_client.transaction import TransactionRequest

# ------------------------------------------------------------------- ZnodeStat


def test_znode_stat_has_kazoo_order_and_names():
    wire = pb.Stat(
        czxid=1,
        mzxid=2,
        pzxid=3,
        ctime=4500,
        mtime=5500,
        version=6,
        cversion=7,
        aversion=8,
        ephemeral_owner=9,
        data_length=10,
        num_children=11,
    )
    stat = ZnodeStat.from_wire(wire)
    assert tuple(stat) == (1, 2, 4500, 5500, 6, 7, 8, 9, 10, 11, 3)
    assert (stat.created, stat.last_modified) == (4.5, 5.5)
    assert (stat.acl_version, stat.children_version, stat.children_count) == (8, 7, 11)
    assert (stat.data_length, stat.owner_session_id) == (10, 9)
    assert (stat.creation_transaction_id, stat.last_modified_transaction_id) == (1, 2)
    assert set(stat.to_dict()) == {
        "czxid",
        "mzxid",
        "pzxid",
        "ctime",
        "mtime",
        "version",
        "cversion",
        "aversion",
        "ephemeralOwner",
        "dataLength",
        "numChildren",
    }
    assert ZnodeStat.from_wire(pb.Stat()).owner_session_id is None


# ------------------------------------------------------------------ exceptions


def test_exceptions_keep_kazoo_names_and_hierarchy():
    assert exceptions.KazooException is exceptions.CoordError
    assert exceptions.NoNodeException is exceptions.NoNodeError
    assert issubclass(exceptions.DataTooLargeError, exceptions.BadArgumentsError)
    assert issubclass(exceptions.ConnectionClosedError, exceptions.SessionExpiredError)
    assert issubclass(exceptions.NoNodeError, exceptions.ZookeeperError)
    assert issubclass(exceptions.LockTimeout, exceptions.CoordError)


def test_every_wire_error_code_has_its_class():
    for name, code in pb.ErrorCode.items():
        if code == pb.OK:
            continue
        exc = error_from_wire(pb.Error(code=code, message="m"))
        assert exc.code == code, name
        assert type(exc) is not exceptions.ZookeeperError, name


# ---------------------------------------------------------------------- events


def test_watched_event_unpacks_as_kazoo_and_carries_the_zxid():
    event = WatchedEvent(EventType.CREATED, KazooState.CONNECTED, "/a", 12)
    kind, state, path = event
    assert (kind, state, path, event.zxid) == ("CREATED", "CONNECTED", "/a", 12)
    assert event.type == "CREATED" and event.path == "/a"


# ------------------------------------------------------------ argument checks


@pytest.mark.parametrize("path", ["", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a\x01b"])
def test_bad_paths_are_refused_before_sending(path):
    for build in (ops.create, ops.get_data, ops.exists, ops.get_children, ops.delete, ops.sync):
        with pytest.raises(ValueError):
            build(path)


@pytest.mark.parametrize("value", ["text", None, 3, bytearray(b"x")])
def test_values_must_be_bytes(value):
    with pytest.raises(TypeError):
        ops.create("/a", value)
    with pytest.raises(TypeError):
        ops.set_data("/a", value)


def test_watches_must_be_callable():
    with pytest.raises(TypeError):
        ops.get_data("/a", watch="nope")
    with pytest.raises(TypeError):
        ops.add_watch("/a", None)


def test_version_minus_one_leaves_the_field_unset():
    assert not ops.delete("/a").message.HasField("version")
    assert not ops.set_data("/a", b"").message.HasField("version")
    assert ops.delete("/a", version=0).message.version == 0
    assert ops.set_data("/a", b"", version=3).message.version == 3
    with pytest.raises(TypeError):
        ops.delete("/a", version="1")


def test_watch_flags_follow_the_callback():
    assert ops.get_data("/a", watch=print).message.watch
    assert not ops.exists("/a").message.watch
    assert ops.add_watch("/a", print, recursive=True).message.mode == pb.PERSISTENT_RECURSIVE


def test_unknown_client_options_are_refused():
    with pytest.raises(TypeError):
        Client("127.0.0.1:1", no_such_option=1)
    Client("127.0.0.1:1", connection_retry={"max_tries": 3}, default_acl=None)


def test_parse_hosts():
    assert parse_hosts("a:1, b ,[::1]:5,[::2]") == ["a:1", "b:7181", "[::1]:5", "[::2]:7181"]
    for bad in ("", " , ", "a:1/chroot"):
        with pytest.raises(ValueError):
            parse_hosts(bad)


# ---------------------------------------------------------------- transaction


def _transaction() -> tuple[TransactionRequest, list[ops.Call]]:
    sent: list[ops.Call] = []

    def submit(call: ops.Call) -> AsyncResult:
        sent.append(call)
        result = AsyncResult(lambda fn, *args: fn(*args))
        result.set([])
        return result

    return TransactionRequest(submit), sent


def test_a_transaction_sends_its_ops_as_one_multi():
    t, sent = _transaction()
    t.create("/a", b"v", sequence=True)
    t.delete("/b", version=2)
    t.set_data("/c", b"w")
    t.check("/d", 4)
    assert t.commit() == []
    (call,) = sent
    assert call.field == "multi"
    assert [op.WhichOneof("op") for op in call.message.ops] == [
        "create",
        "delete",
        "set_data",
        "check",
    ]
    assert call.message.ops[0].create.sequential and call.message.ops[1].delete.version == 2
    with pytest.raises(ValueError):
        t.commit()
    with pytest.raises(ValueError):
        t.create("/e")


def test_a_transaction_block_commits_on_exit_only_without_error():
    with _transaction()[0] as t:
        t.create("/a")
    assert t.committed
    t, sent = _transaction()
    with pytest.raises(KeyError), t:
        t.create("/a")
        raise KeyError
    assert not sent


def test_transaction_ops_check_their_arguments():
    t, _ = _transaction()
    with pytest.raises(ValueError):
        t.create("bad")
    with pytest.raises(TypeError):
        t.set_data("/a", "text")


# --------------------------------------------------------------------- frames


def _request(xid: int, size: int = 0) -> pb.ClientMessage:
    create = pb.CreateRequest(path=f"/n{xid}", data=b"x" * size)
    return pb.ClientMessage(request=pb.Request(xid=xid, create=create))


def test_everything_queued_goes_out_in_one_frame():
    outbox = Outbox(ping_interval=60)
    for xid in range(1, 65):
        outbox.put(_request(xid))
    outbox.end()
    (frame,) = list(outbox.frames())
    assert [m.request.xid for m in frame.messages] == list(range(1, 65))


def test_a_frame_stays_under_the_size_cap():
    outbox = Outbox(ping_interval=60)
    for xid in range(1, 4):
        outbox.put(_request(xid, size=MAX_FRAME_BYTES // 2))
    outbox.end()
    frames = list(outbox.frames())
    assert [len(f.messages) for f in frames] == [1, 1, 1]
    assert [f.messages[0].request.xid for f in frames] == [1, 2, 3]


def test_an_idle_outbox_sends_a_ping():
    outbox = Outbox(ping_interval=0.01)
    frame = next(outbox.frames())
    assert [m.WhichOneof("kind") for m in frame.messages] == ["ping"]


def test_a_request_goes_at_once_when_nothing_is_unanswered(monkeypatch):
    monkeypatch.setattr(stream, "HOLD_S", 3600.0)
    outbox = Outbox(ping_interval=60)
    outbox.put(_request(1))
    frame = next(outbox.frames())
    assert [m.request.xid for m in frame.messages] == [1]


def test_requests_wait_for_the_reply_to_the_unanswered_frame(monkeypatch):
    """Nagle: what is queued while a frame is unanswered goes out together
    once the member replies (the hold is long enough never to end here)."""
    monkeypatch.setattr(stream, "HOLD_S", 3600.0)
    outbox = Outbox(ping_interval=60)
    outbox.put(_request(1))
    frames = outbox.frames()
    next(frames)
    sent: list[pb.ClientFrame] = []
    sender = threading.Thread(target=lambda: sent.append(next(frames)))
    sender.start()
    outbox.put(_request(2))
    outbox.put(_request(3))
    sender.join(0.2)
    assert sender.is_alive() and not sent, "a request went out while the first frame was unanswered"
    outbox.answered(1)
    sender.join()
    assert [m.request.xid for m in sent[0].messages] == [2, 3]


def test_a_held_request_goes_without_a_reply_after_the_hold(monkeypatch):
    monkeypatch.setattr(stream, "HOLD_S", 0.01)
    outbox = Outbox(ping_interval=60)
    outbox.put(_request(1))
    frames = outbox.frames()
    next(frames)
    outbox.put(_request(2))
    assert [m.request.xid for m in next(frames).messages] == [2]


def test_frames_stop_when_the_stream_is_given_up():
    outbox = Outbox(ping_interval=60)
    outbox.put(_request(1))
    assert list(outbox.frames(give_up_at=lambda: 0.0)) == []


# --------------------------------------------------------------- AsyncResult


def test_async_result_returns_raises_and_times_out():
    result = AsyncResult(lambda fn, *args: fn(*args))
    with pytest.raises(exceptions.CoordTimeoutError):
        result.get(timeout=0.01)
    assert not result.ready()
    result.set_exception(exceptions.NoNodeError("gone"))
    assert result.ready() and not result.successful()
    with pytest.raises(exceptions.NoNodeError):
        result.get()


def test_rawlink_runs_through_the_scheduler_once_done():
    scheduled = []
    result = AsyncResult(lambda fn, *args: scheduled.append((fn, args)))
    done = threading.Event()
    result.rawlink(lambda r: done.set())
    result.unlink(print)
    assert scheduled == []
    result.set(5)
    ((fn, args),) = scheduled
    fn(*args)
    assert done.is_set() and result.get_nowait() == 5
