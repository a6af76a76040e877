"""The sans-I/O session protocol, fed ServerMessages by hand: no server, no threads."""

from __future__ import annotations

import pytest

from coord_api.wire import client_pb2 as pb
from coord_client import ops
from coord_client.events import EventType, KazooState
from coord_client.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionClosedError,
    ConnectionLoss,
    CoordError,
    DataTooLargeError,
    InvalidACLError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NotReadOnlyCallError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
    ZookeeperError,
)
from coord_client.protocol import Completion, Notification, Phase, Protocol, StateChanged
from coord_client.stat import ZnodeStat

WIRE_STAT = pb.Stat(czxid=2, mzxid=3, pzxid=4, ctime=1000, mtime=2000, version=1, data_length=1)
STAT = ZnodeStat.from_wire(WIRE_STAT)


def connected(session_id: int = 7, timeout_ms: int = 6000, zxid: int = 3) -> pb.ServerMessage:
    return pb.ServerMessage(
        connected=pb.Connected(
            session_id=session_id, password=b"pw", timeout_ms=timeout_ms, zxid=zxid, member_id=1
        )
    )


def response(xid: int, zxid: int = 0, **result) -> pb.ServerMessage:
    return pb.ServerMessage(response=pb.Response(xid=xid, zxid=zxid, **result))


def error(code: int, message: str = "") -> pb.Error:
    return pb.Error(code=code, message=message)


def event(kind: int, path: str, zxid: int = 0) -> pb.ServerMessage:
    return pb.ServerMessage(event=pb.WatchEvent(type=kind, path=path, zxid=zxid))


def session(**kwargs) -> Protocol:
    protocol = Protocol(5000, **kwargs)
    protocol.receive(connected())
    return protocol


def send(protocol: Protocol, call: ops.Call, handle: object = "h") -> int:
    return protocol.submit(call, handle).request.xid


def answer(protocol: Protocol, call: ops.Call, **result) -> Completion:
    """Send `call`, feed its response, return its one completion."""
    xid = send(protocol, call)
    (outcome,) = protocol.receive(response(xid, **result))
    assert isinstance(outcome, Completion) and outcome.handle == "h"
    return outcome


def fired(outcomes) -> list:
    return [o.callback for o in outcomes if isinstance(o, Notification)]


def watched(protocol: Protocol, call: ops.Call, **result) -> None:
    assert answer(protocol, call, **result).error is None


# ---------------------------------------------------------------- handshake


def test_connect_message_asks_for_a_new_session():
    connect = Protocol(5000).connect_message().connect
    assert (connect.session_id, connect.password, connect.timeout_ms, connect.last_zxid) == (
        0,
        b"",
        5000,
        0,
    )


def test_connected_takes_the_session_and_the_negotiated_timeout():
    protocol = Protocol(5000)
    assert protocol.state is KazooState.LOST
    assert protocol.receive(connected(session_id=9, timeout_ms=4000)) == [
        StateChanged(KazooState.CONNECTED)
    ]
    assert (protocol.session_id, protocol.password, protocol.timeout_ms) == (9, b"pw", 4000)
    assert protocol.phase is Phase.CONNECTED and protocol.last_zxid == 3
    assert protocol.member_id == 1
    protocol.connection_lost()
    assert protocol.member_id == 0


def test_resuming_a_session_sends_its_id_password_and_last_zxid():
    protocol = Protocol(5000, session_id=42, password=b"secret")
    connect = protocol.connect_message().connect
    assert (connect.session_id, connect.password) == (42, b"secret")


def test_no_request_goes_out_before_the_session_is_up():
    with pytest.raises(ConnectionLoss):
        Protocol(5000).submit(ops.sync("/"), "h")


def test_xids_increase_and_requests_carry_their_op():
    protocol = session()
    first = protocol.submit(ops.create("/a", b"v"), "h1").request
    second = protocol.submit(ops.get_data("/a"), "h2").request
    assert (first.xid, second.xid) == (1, 2)
    assert first.create.path == "/a" and first.create.data == b"v"
    assert second.WhichOneof("op") == "get_data" and not second.get_data.watch


# ------------------------------------------------------------------ results


@pytest.mark.parametrize(
    "call, result, expected",
    [
        (ops.create("/a"), {"create": pb.CreateResponse(path="/a")}, "/a"),
        (
            ops.create("/a", include_data=True),
            {"create": pb.CreateResponse(path="/a", stat=WIRE_STAT)},
            ("/a", STAT),
        ),
        (ops.delete("/a"), {"delete": pb.DeleteResponse()}, True),
        (ops.set_data("/a", b"v"), {"set_data": pb.SetDataResponse(stat=WIRE_STAT)}, STAT),
        (
            ops.get_data("/a"),
            {"get_data": pb.GetDataResponse(data=b"d", stat=WIRE_STAT)},
            (b"d", STAT),
        ),
        (ops.exists("/a"), {"exists": pb.ExistsResponse(stat=WIRE_STAT)}, STAT),
        (ops.exists("/a"), {"exists": pb.ExistsResponse()}, None),
        (
            ops.get_children("/a"),
            {"get_children": pb.GetChildrenResponse(children=["x", "y"])},
            ["x", "y"],
        ),
        (
            ops.get_children("/a", include_data=True),
            {"get_children": pb.GetChildrenResponse(children=["x"], stat=WIRE_STAT)},
            (["x"], STAT),
        ),
        (ops.sync("/a"), {"sync": pb.SyncResponse(path="/a")}, "/a"),
    ],
)
def test_responses_become_kazoo_results(call, result, expected):
    outcome = answer(session(), call, **result)
    assert outcome.error is None and outcome.result == expected


@pytest.mark.parametrize(
    "code, cls",
    [
        (pb.NO_NODE, NoNodeError),
        (pb.NODE_EXISTS, NodeExistsError),
        (pb.BAD_VERSION, BadVersionError),
        (pb.NOT_EMPTY, NotEmptyError),
        (pb.DATA_TOO_LARGE, DataTooLargeError),
        (pb.NOT_READ_ONLY, NotReadOnlyCallError),
        (999, ZookeeperError),
    ],
)
def test_error_responses_become_exceptions(code, cls):
    outcome = answer(session(), ops.get_data("/a"), error=error(code, "told"))
    assert type(outcome.error) is cls and str(outcome.error) == "told"


def test_a_response_of_the_wrong_kind_is_an_error():
    outcome = answer(session(), ops.get_data("/a"), sync=pb.SyncResponse(path="/a"))
    assert isinstance(outcome.error, CoordError)


def test_transaction_results_hold_exception_instances_for_failures():
    call = ops.multi([])
    failed = pb.MultiResponse(
        results=[
            pb.OpResult(error=error(pb.ROLLED_BACK)),
            pb.OpResult(error=error(pb.BAD_VERSION)),
            pb.OpResult(error=error(pb.RUNTIME_INCONSISTENCY)),
        ]
    )
    results = answer(session(), call, multi=failed).result
    assert [type(r) for r in results] == [RolledBackError, BadVersionError, RuntimeInconsistency]

    ok = pb.MultiResponse(
        results=[
            pb.OpResult(create=pb.CreateResponse(path="/a0000000001")),
            pb.OpResult(delete=pb.DeleteResponse()),
            pb.OpResult(set_data=pb.SetDataResponse(stat=WIRE_STAT)),
            pb.OpResult(check=pb.CheckResponse()),
        ]
    )
    assert answer(session(), call, multi=ok).result == ["/a0000000001", True, STAT, True]


def test_responses_for_unknown_xids_are_ignored():
    assert session().receive(response(99, delete=pb.DeleteResponse())) == []


# --------------------------------------------------------------------- zxid


def test_last_zxid_is_the_highest_seen_in_responses_pongs_and_events():
    protocol = session()
    xid = send(protocol, ops.sync("/"))
    protocol.receive(response(xid, zxid=5, sync=pb.SyncResponse(path="/")))
    protocol.receive(pb.ServerMessage(pong=pb.Pong(zxid=9)))
    protocol.receive(event(pb.CHANGED, "/a", zxid=7))
    xid = send(protocol, ops.sync("/"))
    protocol.receive(response(xid, zxid=6, sync=pb.SyncResponse(path="/")))
    assert protocol.last_zxid == 9
    protocol.connection_lost()
    assert protocol.connect_message().connect.last_zxid == 9


# ------------------------------------------------------------------ watches


def test_a_get_watch_fires_once_on_change():
    protocol = session()
    watched(protocol, ops.get_data("/a", watch=print), get_data=pb.GetDataResponse(stat=WIRE_STAT))
    (outcome,) = protocol.receive(event(pb.CHANGED, "/a", zxid=11))
    assert outcome.callback is print
    assert tuple(outcome.event) == (EventType.CHANGED, KazooState.CONNECTED, "/a")
    assert outcome.event.zxid == 11
    assert protocol.receive(event(pb.CHANGED, "/a")) == []


def test_an_exists_watch_on_a_missing_node_fires_on_create():
    protocol = session()
    watched(protocol, ops.exists("/a", watch=print), exists=pb.ExistsResponse())
    assert fired(protocol.receive(event(pb.CREATED, "/a"))) == [print]
    assert fired(protocol.receive(event(pb.DELETED, "/a"))) == []


def test_a_failed_read_leaves_no_watch():
    protocol = session()
    outcome = answer(protocol, ops.get_data("/a", watch=print), error=error(pb.NO_NODE))
    assert isinstance(outcome.error, NoNodeError)
    assert protocol.receive(event(pb.CREATED, "/a")) == []


def test_events_fire_the_watchers_zookeeper_says():
    protocol = session()

    def data(_):
        pass

    def child(_):
        pass

    def watch_both() -> None:
        watched(protocol, ops.get_data("/a", watch=data), get_data=pb.GetDataResponse())
        watched(
            protocol, ops.get_children("/a", watch=child), get_children=pb.GetChildrenResponse()
        )

    watch_both()
    assert fired(protocol.receive(event(pb.CHILD, "/a"))) == [child]
    assert fired(protocol.receive(event(pb.CHANGED, "/a"))) == [data]
    watch_both()
    assert fired(protocol.receive(event(pb.DELETED, "/a"))) == [data, child]
    assert fired(protocol.receive(event(pb.DELETED, "/a"))) == []


def test_one_callback_on_two_watches_of_a_path_fires_once():
    protocol = session()
    watched(protocol, ops.get_data("/a", watch=print), get_data=pb.GetDataResponse())
    watched(protocol, ops.get_children("/a", watch=print), get_children=pb.GetChildrenResponse())
    assert fired(protocol.receive(event(pb.DELETED, "/a"))) == [print]


def test_a_persistent_watch_fires_on_every_event_of_its_path_only():
    protocol = session()
    watched(protocol, ops.add_watch("/a", print), add_watch=pb.AddWatchResponse())
    for kind in (pb.CREATED, pb.CHANGED, pb.CHILD, pb.DELETED):
        assert fired(protocol.receive(event(kind, "/a"))) == [print]
    assert fired(protocol.receive(event(pb.CREATED, "/a/b"))) == []


def test_a_recursive_watch_sees_its_subtree_but_no_child_events():
    protocol = session()
    watched(protocol, ops.add_watch("/a", print, recursive=True), add_watch=pb.AddWatchResponse())
    for path in ("/a", "/a/b", "/a/b/c"):
        assert fired(protocol.receive(event(pb.CHANGED, path))) == [print]
    assert fired(protocol.receive(event(pb.CHILD, "/a"))) == []
    assert fired(protocol.receive(event(pb.CREATED, "/ab"))) == []


def test_removing_the_last_callback_drops_the_server_watch():
    protocol = session()
    for fn in (print, repr):
        watched(protocol, ops.add_watch("/a", fn), add_watch=pb.AddWatchResponse())
    assert protocol.remove_watch("/a", print) == []
    assert protocol.remove_watch("/a", len) == []
    (call,) = protocol.remove_watch("/a", repr)
    assert call.field == "remove_watch" and call.message.kind == pb.PERSISTENT_WATCH
    assert protocol.receive(event(pb.CHANGED, "/a")) == []


def test_session_level_events_are_not_dispatched():
    protocol = session()
    watched(protocol, ops.add_watch("/", print, recursive=True), add_watch=pb.AddWatchResponse())
    assert protocol.receive(event(pb.EVENT_NONE, "/")) == []


# ------------------------------------------------------------- the session


def test_a_broken_connection_keeps_requests_and_watches_for_the_next_member():
    protocol = session()
    watched(protocol, ops.add_watch("/a", print), add_watch=pb.AddWatchResponse())
    first = protocol.submit(ops.create("/a"), "h1")
    assert protocol.connection_lost() == [StateChanged(KazooState.SUSPENDED)]
    assert protocol.submit(ops.sync("/"), "h2") is None  # waits for the next member
    assert protocol.wants_connection
    connect = protocol.connect_message().connect
    assert connect.session_id == 7
    assert list(connect.watches) == [pb.WatchRegistration(path="/a", kind=pb.PERSISTENT_WATCH)]
    state, *resent = protocol.receive(connected())
    assert state == StateChanged(KazooState.CONNECTED)
    assert resent[0].message == first
    assert [o.message.request.xid for o in resent] == [2, 3]
    assert fired(protocol.receive(event(pb.CHANGED, "/a"))) == [print]


def test_a_write_refused_after_a_resend_is_connection_loss():
    """A member that cannot write refuses a write as not applied; but a write
    sent before, on a stream that broke, may apply from that sending."""
    protocol = session()
    sent_before = send(protocol, ops.create("/a"))
    protocol.connection_lost()
    made_while_away = protocol.submit(ops.create("/b"), "h")
    assert made_while_away is None
    protocol.receive(connected())
    refused = error(pb.NOT_READ_ONLY, "disk full; not applied")
    (resent,) = protocol.receive(response(sent_before, error=refused))
    assert type(resent.error) is ConnectionLoss, resent.error
    (first_sent,) = protocol.receive(response(sent_before + 1, error=refused))
    assert type(first_sent.error) is NotReadOnlyCallError
    assert type(answer(protocol, ops.create("/c"), error=refused).error) is NotReadOnlyCallError


def test_an_expired_session_is_lost_for_good():
    protocol = session()
    watched(protocol, ops.add_watch("/a", print), add_watch=pb.AddWatchResponse())
    send(protocol, ops.sync("/"))
    outcomes = protocol.receive(pb.ServerMessage(session_error=error(pb.SESSION_EXPIRED)))
    assert outcomes[0] == StateChanged(KazooState.LOST)
    assert isinstance(outcomes[1].error, SessionExpiredError)
    assert not protocol.wants_connection
    with pytest.raises(SessionExpiredError):
        protocol.submit(ops.sync("/"), "h")
    assert protocol.receive(event(pb.CHANGED, "/a")) == []


def test_resuming_an_unknown_session_is_expiry_without_a_state_change():
    protocol = Protocol(5000, session_id=42, password=b"x")
    assert protocol.receive(pb.ServerMessage(session_error=error(pb.SESSION_EXPIRED))) == []
    assert protocol.phase is Phase.EXPIRED


def test_a_member_not_ready_means_try_another():
    protocol = Protocol(5000)
    assert protocol.receive(pb.ServerMessage(session_error=error(pb.NOT_READY))) == []
    assert protocol.wants_connection


def test_close_lets_requests_in_flight_finish_and_refuses_new_ones():
    protocol = session()
    done = send(protocol, ops.sync("/"), "done")
    send(protocol, ops.sync("/"), "cut")
    assert protocol.close_message().WhichOneof("kind") == "close"
    with pytest.raises(ConnectionClosedError):
        protocol.submit(ops.sync("/"), "h")
    (outcome,) = protocol.receive(response(done, sync=pb.SyncResponse(path="/")))
    assert outcome.handle == "done" and outcome.result == "/"
    assert protocol.state is KazooState.CONNECTED
    lost, cut = protocol.receive(pb.ServerMessage(closed=pb.Closed()))
    assert lost == StateChanged(KazooState.LOST)
    assert cut.handle == "cut" and isinstance(cut.error, ConnectionClosedError)
    assert protocol.abandon() == []


def test_no_answer_for_the_session_timeout_expires_it_locally():
    protocol = session()
    protocol.connection_lost()
    assert protocol.expire() == [StateChanged(KazooState.LOST)]
    with pytest.raises(SessionExpiredError):
        protocol.submit(ops.sync("/"), "h")
    assert protocol.abandon() == []
    with pytest.raises(ConnectionClosedError):
        protocol.submit(ops.sync("/"), "h")


# ---------------------------------------------------------- authentication


def ops_of(messages) -> list[str]:
    return [m.request.WhichOneof("op") or m.WhichOneof("kind") for m in messages]


def test_proven_credentials_ride_with_the_connect_to_every_new_member():
    protocol = session()
    assert protocol.opening() == [protocol.connect_message()]  # nothing proven yet
    assert answer(protocol, ops.auth("digest", "bob:pw"), auth=pb.AuthResponse()).result is True
    assert answer(protocol, ops.auth("digest", "bob:pw"), auth=pb.AuthResponse()).error is None
    waiting = protocol.submit(ops.get_data("/a"), "h1")
    protocol.connection_lost()
    assert protocol.submit(ops.get_data("/b"), "h2") is None
    opening = protocol.opening()
    assert ops_of(opening) == ["connect", "auth"]  # one proof: the same credential twice
    assert opening[1].request.auth == pb.AuthRequest(scheme="digest", credential=b"bob:pw")
    state, *sent = protocol.receive(connected())
    assert state == StateChanged(KazooState.CONNECTED)
    assert ops_of(o.message for o in sent) == ["get_data", "get_data"]
    assert sent[0].message == waiting
    # the proof's answer completes nothing awaited
    (proven,) = protocol.receive(response(opening[1].request.xid, auth=pb.AuthResponse()))
    assert proven.handle is None


def test_a_proof_unanswered_is_sent_once_with_the_next_connect():
    protocol = session()
    answer(protocol, ops.auth("digest", "bob:pw"), auth=pb.AuthResponse())
    protocol.connection_lost()
    first = protocol.opening()
    second = protocol.opening()  # that member never answered
    assert ops_of(second) == ["connect", "auth"]
    assert second[1].request.xid > first[1].request.xid
    _, *sent = protocol.receive(connected())
    assert sent == []  # the proof is not sent again behind the connect


def test_a_credential_in_flight_is_sent_again_in_its_place():
    protocol = session()
    send(protocol, ops.get_data("/a"), "before")
    send(protocol, ops.auth("digest", "bob:pw"), "auth")
    send(protocol, ops.get_data("/a"), "after")
    protocol.connection_lost()
    assert ops_of(protocol.opening()) == ["connect"]
    _, *sent = protocol.receive(connected())
    assert ops_of(o.message for o in sent) == ["get_data", "auth", "get_data"]


def test_a_refused_credential_is_not_kept():
    protocol = session()
    refused = answer(protocol, ops.auth("nope", "x"), error=error(pb.AUTH_FAILED))
    assert isinstance(refused.error, AuthFailedError)
    protocol.connection_lost()
    assert ops_of(protocol.opening()) == ["connect"]


def test_auth_failed_ends_the_session_as_kazoo():
    protocol = session()
    waiting = send(protocol, ops.get_data("/a"), "waiting")
    xid = send(protocol, ops.auth("nope", "x"), "auth")
    (refused,) = protocol.receive(response(xid, error=error(pb.AUTH_FAILED, "unknown scheme")))
    assert refused.handle == "auth" and str(refused.error) == "unknown scheme"
    lost, cut = protocol.receive(pb.ServerMessage(session_error=error(pb.AUTH_FAILED)))
    assert lost == StateChanged(KazooState.LOST)
    assert cut.handle == "waiting" and isinstance(cut.error, AuthFailedError)
    assert waiting and protocol.phase is Phase.AUTH_FAILED and not protocol.wants_connection
    with pytest.raises(AuthFailedError):
        protocol.submit(ops.sync("/"), "h")


@pytest.mark.parametrize(
    ("code", "cls"), [(pb.NO_AUTH, NoAuthError), (pb.INVALID_ACL, InvalidACLError)]
)
def test_acl_errors_become_kazoos_exceptions(code, cls):
    protocol = session()
    assert isinstance(answer(protocol, ops.get_acls("/a"), error=error(code)).error, cls)
