"""A client that reconnects brings its watches and its last zxid: one-shot
watches follow ZooKeeper's SetWatches rules, persistent watches get the
events they missed replayed, and nothing fires twice."""

from __future__ import annotations

import pytest

from coord_api.wire import client_pb2 as pb
from tests.rawsession import RawSession

Kind = pb.WatchKind


def watch(path: str, kind: int) -> pb.WatchRegistration:
    return pb.WatchRegistration(path=path, kind=kind)


def change(address: str, **op) -> None:
    writer = RawSession(address)
    response = writer.call(1, **op)
    assert not response.HasField("error"), response


def events_after_sync(session: RawSession) -> list[tuple[int, str]]:
    """Events delivered up to a sync's answer: what was due has arrived."""
    session.call(99, sync=pb.SyncRequest(path="/"))
    return [(e.type, e.path) for e in session.events]


@pytest.mark.parametrize(
    ("kind", "setup", "while_away", "expected"),
    [
        (Kind.DATA, "/w", {"set_data": pb.SetDataRequest(path="/w", data=b"2")}, pb.CHANGED),
        (Kind.DATA, "/w", {"delete": pb.DeleteRequest(path="/w")}, pb.DELETED),
        (Kind.EXISTS, None, {"create": pb.CreateRequest(path="/w")}, pb.CREATED),
        (Kind.CHILDREN, "/w", {"create": pb.CreateRequest(path="/w/c")}, pb.CHILD),
        (Kind.CHILDREN, "/w", {"delete": pb.DeleteRequest(path="/w")}, pb.DELETED),
    ],
)
def test_one_shot_watch_fires_for_a_change_made_while_away(
    server, kind, setup, while_away, expected
):
    session = RawSession(server.address)
    if setup:
        session.call(1, create=pb.CreateRequest(path=setup))
    last_zxid = session.call(2, exists=pb.ExistsRequest(path="/")).zxid
    session.drop()
    change(server.address, **while_away)
    back = RawSession(
        server.address, session.session_id, session.password,
        last_zxid=last_zxid, watches=(watch("/w", kind),),
    )  # fmt: skip
    assert events_after_sync(back) == [(expected, "/w")]
    change(server.address, create=pb.CreateRequest(path="/other"))
    assert events_after_sync(back) == [(expected, "/w")], "a one-shot watch fired twice"


def test_unchanged_node_rearms_and_fires_once_later(server):
    session = RawSession(server.address)
    session.call(1, create=pb.CreateRequest(path="/w"))
    last_zxid = session.call(2, exists=pb.ExistsRequest(path="/w")).zxid
    session.drop()
    back = RawSession(
        server.address, session.session_id, session.password,
        last_zxid=last_zxid, watches=(watch("/w", Kind.DATA),),
    )  # fmt: skip
    assert events_after_sync(back) == []
    change(server.address, set_data=pb.SetDataRequest(path="/w", data=b"1"))
    change(server.address, set_data=pb.SetDataRequest(path="/w", data=b"2"))
    assert events_after_sync(back) == [(pb.CHANGED, "/w")]


def test_persistent_recursive_watch_gets_missed_events_replayed(server):
    session = RawSession(server.address)
    session.call(1, create=pb.CreateRequest(path="/app"))
    last_zxid = session.call(2, exists=pb.ExistsRequest(path="/app")).zxid
    session.drop()
    change(server.address, create=pb.CreateRequest(path="/app/a", data=b"1"))
    change(server.address, set_data=pb.SetDataRequest(path="/app/a", data=b"2"))
    change(server.address, delete=pb.DeleteRequest(path="/app/a"))
    change(server.address, create=pb.CreateRequest(path="/elsewhere"))
    back = RawSession(
        server.address, session.session_id, session.password,
        last_zxid=last_zxid, watches=(watch("/app", Kind.PERSISTENT_RECURSIVE_WATCH),),
    )  # fmt: skip
    assert events_after_sync(back) == [
        (pb.CREATED, "/app/a"), (pb.CHANGED, "/app/a"), (pb.DELETED, "/app/a"),
    ]  # fmt: skip
    change(server.address, create=pb.CreateRequest(path="/app/b"))
    assert events_after_sync(back)[-1] == (pb.CREATED, "/app/b")


def test_event_reaches_the_client_before_the_response_that_reflects_it(server):
    """ZooKeeper's ordering: a session sees the event of a change before any
    result that reflects the change, its own write's reply included."""
    writer, reader = RawSession(server.address), RawSession(server.address)
    writer.call(1, create=pb.CreateRequest(path="/w"))
    for session in (writer, reader):
        session.call(2, get_data=pb.GetDataRequest(path="/w", watch=True))
    write = pb.SetDataRequest(path="/w", data=b"1")
    writer.send(pb.ClientMessage(request=pb.Request(xid=3, set_data=write)))
    assert [writer.next_message().WhichOneof("kind") for _ in range(2)] == ["event", "response"]
    reader.send(pb.ClientMessage(request=pb.Request(xid=3, get_data=pb.GetDataRequest(path="/w"))))
    first, second = reader.next_message(), reader.next_message()
    assert first.WhichOneof("kind") == "event"
    assert second.response.get_data.data == b"1"
