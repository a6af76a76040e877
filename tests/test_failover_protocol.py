"""Fail-over without a server: what a suspended session keeps, what the
reconnect carries, what is sent once the next member has the session, and
when a silent member is given up."""

from __future__ import annotations

import time

import pytest

from coord_api.wire import client_pb2 as pb
from coord_client import ops
from coord_client.events import EventType, KazooState
from coord_client.exceptions import ConnectionClosedError, ConnectionLoss, SessionExpiredError
from coord_client.protocol import Completion, Phase, Protocol, Send, StateChanged
from coord_client.stream import Outbox
from tests.test_sdk_protocol import WIRE_STAT, connected, error, event, fired, response, session


def suspended() -> Protocol:
    protocol = session()
    protocol.connection_lost()
    return protocol


def answered(protocol: Protocol, call: ops.Call, **result) -> None:
    """Send `call` and feed its successful response."""
    xid = protocol.submit(call, "h").request.xid
    (outcome,) = protocol.receive(response(xid, **result))
    assert isinstance(outcome, Completion) and outcome.error is None


def carried(protocol: Protocol) -> set[tuple[str, int]]:
    """The watches the next Connect lists, as (path, kind)."""
    return {(w.path, w.kind) for w in protocol.connect_message().connect.watches}


def resent(outcomes) -> list[int]:
    return [o.message.request.xid for o in outcomes if isinstance(o, Send)]


# ---------------------------------------------------------------- watches


def test_the_reconnect_lists_every_watch_by_kind():
    protocol = session()
    answered(protocol, ops.get_data("/g", print), get_data=pb.GetDataResponse(stat=WIRE_STAT))
    answered(protocol, ops.exists("/here", print), exists=pb.ExistsResponse(stat=WIRE_STAT))
    answered(protocol, ops.exists("/missing", print), exists=pb.ExistsResponse())
    answered(protocol, ops.get_children("/c", print), get_children=pb.GetChildrenResponse())
    answered(protocol, ops.add_watch("/p", print), add_watch=pb.AddWatchResponse())
    answered(protocol, ops.add_watch("/r", repr, recursive=True), add_watch=pb.AddWatchResponse())
    protocol.connection_lost()
    assert carried(protocol) == {
        ("/g", pb.DATA),
        ("/here", pb.DATA),
        ("/missing", pb.EXISTS),
        ("/c", pb.CHILDREN),
        ("/p", pb.PERSISTENT_WATCH),
        ("/r", pb.PERSISTENT_RECURSIVE_WATCH),
    }


def test_a_new_session_carries_no_watches():
    assert list(Protocol(5000).connect_message().connect.watches) == []


def test_a_fired_watch_is_not_carried_so_it_cannot_fire_twice():
    protocol = session()
    answered(protocol, ops.get_data("/a", print), get_data=pb.GetDataResponse(stat=WIRE_STAT))
    answered(protocol, ops.exists("/b", repr), exists=pb.ExistsResponse())
    assert fired(protocol.receive(event(pb.CHANGED, "/a", zxid=9))) == [print]
    protocol.connection_lost()
    assert carried(protocol) == {("/b", pb.EXISTS)}
    protocol.receive(connected(zxid=12))
    assert fired(protocol.receive(event(pb.CREATED, "/b", zxid=10))) == [repr]
    assert fired(protocol.receive(event(pb.CHANGED, "/a", zxid=11))) == []
    assert carried(protocol) == set()


def test_an_exists_watch_on_a_missing_node_fires_on_its_creation():
    protocol = session()
    answered(protocol, ops.exists("/b", print), exists=pb.ExistsResponse())
    outcomes = protocol.receive(event(pb.CREATED, "/b"))
    assert fired(outcomes) == [print] and outcomes[0].event.type == EventType.CREATED


def test_persistent_watches_stay_carried_after_firing():
    protocol = session()
    answered(protocol, ops.add_watch("/r", print, recursive=True), add_watch=pb.AddWatchResponse())
    protocol.connection_lost()
    protocol.receive(connected())
    assert fired(protocol.receive(event(pb.CREATED, "/r/x"))) == [print]
    protocol.connection_lost()
    assert carried(protocol) == {("/r", pb.PERSISTENT_RECURSIVE_WATCH)}


def test_the_reconnect_carries_the_last_zxid_seen():
    protocol = session()
    protocol.receive(pb.ServerMessage(pong=pb.Pong(zxid=41)))
    protocol.connection_lost()
    assert protocol.connect_message().connect.last_zxid == 41


# --------------------------------------------------------------- requests


def test_requests_in_flight_and_queued_go_to_the_next_member_in_xid_order():
    protocol = session()
    first = protocol.submit(ops.create("/a", b"1"), "a")
    second = protocol.submit(ops.get_data("/a"), "b")
    answered_xid = protocol.submit(ops.sync("/"), "c").request.xid
    protocol.receive(response(answered_xid, sync=pb.SyncResponse(path="/")))
    assert protocol.connection_lost() == [StateChanged(KazooState.SUSPENDED)]
    assert protocol.submit(ops.set_data("/a", b"2"), "d") is None
    assert protocol.connect_message().WhichOneof("kind") == "connect"  # nothing rides along
    outcomes = protocol.receive(connected())
    assert outcomes[0] == StateChanged(KazooState.CONNECTED)
    assert resent(outcomes) == [1, 2, 4]
    assert outcomes[1].message == first and outcomes[2].message == second
    (done,) = protocol.receive(response(4, set_data=pb.SetDataResponse(stat=WIRE_STAT)))
    assert done.handle == "d" and done.error is None


def test_a_member_not_ready_keeps_everything_for_the_next_one():
    protocol = suspended()
    protocol.submit(ops.sync("/"), "h")
    assert protocol.receive(pb.ServerMessage(session_error=error(pb.NOT_READY))) == []
    assert protocol.phase is Phase.SUSPENDED
    assert protocol.connection_lost() == []  # that stream ends next
    assert resent(protocol.receive(connected())) == [1]


def test_several_broken_connections_resend_each_request_each_time():
    protocol = session()
    protocol.submit(ops.create("/a"), "h")
    for _ in range(3):
        protocol.connection_lost()
        assert resent(protocol.receive(connected())) == [1]
    protocol.receive(response(1, create=pb.CreateResponse(path="/a")))
    protocol.connection_lost()
    assert resent(protocol.receive(connected())) == []


def test_no_member_within_the_session_timeout_fails_what_waits_with_connection_loss():
    protocol = session()
    protocol.submit(ops.create("/a"), "sent")
    protocol.connection_lost()
    protocol.submit(ops.sync("/"), "queued")
    lost, *failed = protocol.expire()
    assert lost == StateChanged(KazooState.LOST)
    assert {o.handle for o in failed} == {"sent", "queued"}
    assert all(type(o.error) is ConnectionLoss for o in failed)
    with pytest.raises(SessionExpiredError):
        protocol.submit(ops.sync("/"), "h")
    assert not protocol.wants_connection


def test_a_member_saying_the_session_expired_fails_what_waits_with_session_expired():
    protocol = suspended()
    protocol.submit(ops.create("/a"), "queued")
    lost, failed = protocol.receive(pb.ServerMessage(session_error=error(pb.SESSION_EXPIRED)))
    assert lost == StateChanged(KazooState.LOST)
    assert failed.handle == "queued" and isinstance(failed.error, SessionExpiredError)
    assert carried(protocol) == set()


def test_stopping_while_suspended_fails_what_waits():
    protocol = suspended()
    protocol.submit(ops.sync("/"), "queued")
    lost, failed = protocol.abandon()
    assert lost == StateChanged(KazooState.LOST)
    assert failed.handle == "queued" and isinstance(failed.error, ConnectionClosedError)


# ------------------------------------------------------------ the stream


def finish(outbox: Outbox, give_up_at: float) -> bool:
    """Drain the outbox's frames to the end; True when it gave the stream up."""
    frames = outbox.frames(give_up_at=lambda: give_up_at)
    with pytest.raises(StopIteration) as stopped:
        while True:
            next(frames)
    return stopped.value.value


def test_a_silent_member_is_given_up_at_its_deadline_not_at_the_next_ping():
    began = time.monotonic()
    assert finish(Outbox(ping_interval=60), give_up_at=began + 0.05) is True
    assert time.monotonic() - began < 5


def test_a_stream_ended_by_the_client_is_not_given_up():
    outbox = Outbox(ping_interval=60)
    outbox.end()
    assert finish(outbox, give_up_at=time.monotonic() + 60) is False
