"""Sessions as the server keeps them: a silent one is expired through the
log (its ephemerals go, their watchers hear it), and a restart keeps
sessions, restarting their clocks."""

from __future__ import annotations

from coord_api.wire import client_pb2 as pb
from tests.rawsession import RawSession


def test_silent_session_expires_and_its_ephemerals_go(server_factory):
    server = server_factory("--min-session-timeout-ms", "500")
    doomed = RawSession(server.address, timeout_ms=500)
    doomed.call(1, create=pb.CreateRequest(path="/eph", ephemeral=True))
    watcher = RawSession(server.address)
    assert watcher.call(1, exists=pb.ExistsRequest(path="/eph", watch=True)).exists.HasField("stat")
    doomed.drop()  # silent from now on, never closed
    event = watcher.next_event()
    assert (event.type, event.path) == (pb.DELETED, "/eph")
    retry = RawSession.refused(server.address, doomed.session_id, doomed.password)
    assert retry.session_error.code == pb.SESSION_EXPIRED


def test_restart_keeps_sessions_and_gives_them_a_fresh_timeout(server):
    session = RawSession(server.address, timeout_ms=10_000)
    session.call(1, create=pb.CreateRequest(path="/eph", ephemeral=True))
    session.drop()
    server.stop()
    server.start()
    back = RawSession(server.address, session.session_id, session.password)
    assert back.session_id == session.session_id
    assert back.call(2, exists=pb.ExistsRequest(path="/eph")).exists.HasField("stat")
