"""The member's limits (README "Limits"), each through a real member: a
request over one is refused with LIMIT_EXCEEDED (RESOURCE_EXHAUSTED and its
reason on the wire, LimitExceededError in the SDK), changes nothing, and
leaves the other clients alone; a client that does not read costs the member
a bounded amount of memory."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client.exceptions import LimitExceededError, NoNodeError
from tests.rawsession import RawSession, SessionRefused
from tests.servers import Cluster, free_port
from tests.test_coordctl import fails

RPC_TIMEOUT = 10.0


def reason_of(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get("coord-error")


def refused(call, *args, **kwargs) -> grpc.RpcError:
    """The refusal of a unary call that must be refused for a limit."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=RPC_TIMEOUT, **kwargs)
    err = info.value
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    return err


def own_status(address: str) -> pb.MemberStatus:
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        return stub.Status(pb.StatusRequest(local_only=True), timeout=RPC_TIMEOUT).members[0]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def stub_of() -> Iterator:
    channels: list[grpc.Channel] = []

    def make(address: str) -> client_pb2_grpc.CoordStub:
        channels.append(grpc.insecure_channel(address))
        return client_pb2_grpc.CoordStub(channels[-1])

    yield make
    for channel in channels:
        channel.close()


# ------------------------------------------------------- request shapes


def test_a_request_over_max_request_bytes_is_refused_and_changes_nothing(
    server_factory, stub_of, clients
):
    srv = server_factory("--max-request-bytes", "4096", "--max-data-bytes", "4096")
    stub = stub_of(srv.address)
    err = refused(stub.Create, pb.CreateRequest(path="/big", data=b"x" * 5000))
    assert reason_of(err) == "LIMIT_EXCEEDED"
    assert "--max-request-bytes 4096" in err.details()
    # Four times the limit and more is not even read: gRPC refuses it.
    refused(stub.Create, pb.CreateRequest(path="/big", data=b"x" * 20_000))
    zk = clients(srv.address)
    # The SDK knows the member's limit from the handshake and refuses itself.
    with pytest.raises(LimitExceededError, match="--max-request-bytes 4096"):
        zk.create("/big", b"x" * 5000)
    assert zk.exists("/big") is None
    zk.create("/fits", b"x" * 4000)  # and the session goes on
    assert stub.Exists(pb.ExistsRequest(path="/fits"), timeout=RPC_TIMEOUT).HasField("stat")


def test_a_raw_frame_over_max_request_bytes_ends_the_stream_not_the_member(server_factory):
    srv = server_factory("--max-request-bytes", "4096", "--max-data-bytes", "4096")
    raw = RawSession(srv.address)
    raw.send(pb.ClientMessage(request=pb.Request(
        xid=1, create=pb.CreateRequest(path="/big", data=b"x" * 5000)
    )))  # fmt: skip
    answer = raw.next_message()
    assert answer.session_error.code == pb.LIMIT_EXCEEDED, answer
    again = RawSession(srv.address, raw.session_id, raw.password)  # the session lives
    assert again.call(2, exists=pb.ExistsRequest(path="/big")).exists.HasField("stat") is False


def test_path_bytes_depth_and_multi_ops_are_refused_at_the_door(server_factory, stub_of, clients):
    srv = server_factory(
        "--max-path-bytes", "64", "--max-path-depth", "4", "--max-multi-ops", "3"
    )  # fmt: skip
    stub = stub_of(srv.address)
    zk = clients(srv.address)
    long_path = "/" + "n" * 64
    err = refused(stub.Create, pb.CreateRequest(path=long_path))
    assert (reason_of(err), "--max-path-bytes 64" in err.details()) == ("LIMIT_EXCEEDED", True)
    # make-parents makes no more nodes than a path may be deep
    deep = "/a/b/c/d/e"
    err = refused(stub.Create, pb.CreateRequest(path=deep, make_parents=True))
    assert "--max-path-depth 4" in err.details()
    with pytest.raises(LimitExceededError, match="--max-path-depth 4"):
        zk.create(deep, makepath=True)
    with pytest.raises(LimitExceededError, match="--max-path-bytes 64"):
        zk.set(long_path, b"x")
    tx = zk.transaction()
    for name in "wxyz":
        tx.create(f"/{name}")
    with pytest.raises(LimitExceededError, match="--max-multi-ops 3"):
        tx.commit()
    # a path over a limit inside a transaction refuses the whole of it
    err = refused(stub.Multi, pb.MultiRequest(ops=[
        pb.Op(create=pb.CreateRequest(path="/ok")),
        pb.Op(create=pb.CreateRequest(path=long_path)),
    ]))  # fmt: skip
    assert reason_of(err) == "LIMIT_EXCEEDED"
    assert zk.get_children("/") == [], "a refused request changed the tree"
    zk.create("/a/b/c/d", makepath=True)  # at the limits: fine
    assert zk.exists("/a/b/c/d") is not None


def test_a_recursive_delete_touches_at_most_1000_nodes(server, clients):
    zk = clients(server.address)
    zk.create("/big")
    for start in (0, 500):  # 1001 nodes with /big
        tx = zk.transaction()
        for index in range(start, start + 500):
            tx.create(f"/big/{index}")
        tx.commit()
    with pytest.raises(LimitExceededError, match="delete its subtrees first, in steps"):
        zk.delete("/big", recursive=True)
    line = fails(server, "delete", "-r", "/big")  # coordctl: one line
    assert "over 1000 nodes" in line and "in steps" in line, line
    assert len(zk.get_children("/big")) == 1000, "a refused delete removed nodes"
    zk.delete("/big/0")
    zk.delete("/big", recursive=True)  # 1000 nodes: allowed
    with pytest.raises(NoNodeError):
        zk.get("/big")


def test_watches_per_session_are_capped(server_factory, clients):
    srv = server_factory("--max-watches-per-session", "3")
    zk, other = clients(srv.address), clients(srv.address)
    for name in "abcd":
        zk.create(f"/{name}")
    fired = threading.Event()
    for name in "abc":
        zk.get(f"/{name}", watch=lambda event: fired.set())
    zk.get("/a", watch=lambda event: None)  # the same watch again: not one more
    with pytest.raises(LimitExceededError, match="--max-watches-per-session 3"):
        zk.get("/d", watch=lambda event: None)
    with pytest.raises(LimitExceededError):
        zk.add_watch("/d", lambda event: None)
    for name in "bcd":
        other.get(f"/{name}", watch=lambda event: None)  # another session has its own
    other.set("/c", b"changed")
    assert fired.wait(10), "a watch armed under the limit did not fire"
    zk.get("/d", watch=lambda event: None)  # one fired: room for one more


def test_watch_calls_per_address_are_capped(server_factory, stub_of):
    """A Watch call holds a watch with no session: one address may hold at
    most --max-watches-per-session of them."""
    srv = server_factory("--max-watches-per-session", "2")
    stub = stub_of(srv.address)
    stub.Create(pb.CreateRequest(path="/w"), timeout=RPC_TIMEOUT)
    watch = pb.AddWatchRequest(path="/w", mode=pb.PERSISTENT)
    calls = [stub.Watch(watch, timeout=60) for _ in range(2)]
    for call in calls:
        call.initial_metadata()  # armed
    with pytest.raises(grpc.RpcError) as third:
        next(stub.Watch(watch, timeout=RPC_TIMEOUT))
    assert third.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-watches-per-session 2" in third.value.details()
    assert not _admits_a_watch_call(stub, watch)
    stub.SetData(pb.SetDataRequest(path="/w", data=b"x"), timeout=RPC_TIMEOUT)
    assert [next(call).path for call in calls] == ["/w", "/w"]  # the two armed are served
    calls[0].cancel()
    Cluster.wait_until(lambda: _admits_a_watch_call(stub, watch))


def _admits_a_watch_call(stub, watch: pb.AddWatchRequest) -> bool:
    """Whether a Watch call is armed: a refused one has ended by the time
    its (trailers-only) answer comes; an armed one stays open."""
    call = stub.Watch(watch, timeout=RPC_TIMEOUT)
    try:
        call.initial_metadata()
        return not call.done()
    finally:
        call.cancel()


# ------------------------------------------------------------- sessions


def test_sessions_per_ip_are_capped(server_factory, clients, stub_of):
    srv = server_factory("--max-sessions-per-ip", "2")
    first = clients(srv.address)
    opened = stub_of(srv.address).OpenSession(pb.OpenSessionRequest(timeout_ms=10_000))
    with pytest.raises(LimitExceededError, match="--max-sessions-per-ip 2"):
        clients(srv.address)
    err = refused(stub_of(srv.address).OpenSession, pb.OpenSessionRequest(timeout_ms=10_000))
    assert "--max-sessions-per-ip 2" in err.details()
    with pytest.raises(SessionRefused) as raw:
        RawSession(srv.address)
    assert raw.value.answer.session_error.code == pb.LIMIT_EXCEEDED
    first.create("/still-served")  # those admitted are unaffected
    assert own_status(srv.address).sessions == 2, "a refused session was opened"
    stub_of(srv.address).CloseSession(
        pb.SessionRef(session_id=opened.session_id, password=opened.password)
    )
    clients(srv.address).exists("/still-served")  # room again


def test_sessions_per_member_are_capped(server_factory, clients):
    srv = server_factory("--max-sessions", "2")
    clients(srv.address)
    second = clients(srv.address)
    with pytest.raises(LimitExceededError, match="--max-sessions 2"):
        clients(srv.address)
    second.stop()  # its stream ends a moment after its session
    Cluster.wait_until(lambda: _starts(clients, srv.address))


def _starts(clients, address: str) -> bool:
    """Whether a new session is let in (not refused for a limit)."""
    try:
        clients(address)
    except LimitExceededError:
        return False
    return True


# ------------------------------------------------- clients that do not read


def test_streams_that_are_not_read_are_cut_off_and_memory_stays_bounded(server_factory, clients):
    """200 MB of events for 25 clients that never read: the member holds at
    most --max-unread-bytes (1 MiB here) for each, then cuts its stream
    off; the sessions live on, and the other clients are served. Bound:
    under 100 MiB of growth, against the 200 MB that would pile up unbounded
    (the writes themselves leave about 16 MB in the log and the watch history)."""
    srv = server_factory("--max-unread-bytes", str(1 << 20))
    zk = clients(srv.address)
    name = "/" + "p" * 2000  # each event about 2 KB
    zk.create(name)
    readers = []
    for _ in range(25):
        raw = RawSession(srv.address)
        armed = raw.call(1, add_watch=pb.AddWatchRequest(path=name, mode=pb.PERSISTENT))
        assert armed.WhichOneof("result") == "add_watch", armed
        readers.append(raw)
    before = rss_bytes(srv.pid)
    pushed = 0
    # What the connections absorb before the member's writes block (HTTP/2
    # windows, socket buffers) varies: push on until every stream is cut.
    while pushed < 200_000_000 or own_status(srv.address).unread_streams_cut < len(readers):
        assert pushed < 2_000_000_000, "a stream that was not read was never cut off"
        for each in [zk.set_async(name, b"") for _ in range(100)]:
            each.get(RPC_TIMEOUT)
        pushed += 100 * len(name) * len(readers)
    grown = rss_bytes(srv.pid) - before
    assert grown < 100 << 20, f"the member grew by {grown >> 20} MiB for clients that did not read"
    resumed = RawSession(srv.address, readers[0].session_id, readers[0].password)
    assert resumed.call(2, exists=pb.ExistsRequest(path=name)).exists.HasField("stat")


def test_answers_a_client_does_not_read_stop_its_stream_being_read(server, clients):
    """200 reads of a 1 MiB node sent at once, nothing read: the member reads
    the stream only while half of --max-unread-bytes of answers have not
    gone out, so it holds a bounded amount; all are answered once the
    client reads, in order."""
    zk = clients(server.address)
    zk.create("/big", b"x" * (1 << 20))
    raw = RawSession(server.address)
    before = rss_bytes(server.pid)
    get = pb.GetDataRequest(path="/big")
    raw.send(*(pb.ClientMessage(request=pb.Request(xid=n, get_data=get)) for n in range(1, 201)))
    zk.set("/other", b"") if zk.exists("/other") else zk.create("/other")  # others are served
    grown = rss_bytes(server.pid) - before
    assert grown < 64 << 20, f"the member grew by {grown >> 20} MiB for a client that did not read"
    answered = [raw.next_message().response for _ in range(200)]
    assert [a.xid for a in answered] == list(range(1, 201))
    assert all(len(a.get_data.data) == 1 << 20 for a in answered)


class PausableProxy:
    """A TCP relay whose member-to-client direction can be paused: behind
    it, a client that does not read, whatever its own code does."""

    def __init__(self, target: str, listen: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(listen)
        self.address = "{}:{}".format(*self.listener.getsockname()[:2])
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, self.flowing), daemon=True
            ).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, gate: threading.Event | None) -> None:
        try:
            while True:
                if gate is not None:
                    gate.wait()
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for each in (source, sink):
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.flowing.set()
        self.listener.close()
        for each in self.sockets:
            each.close()


@pytest.mark.parametrize("framed", [True, False], ids=["session port", "stream"])
def test_an_sdk_client_that_stops_reading_is_cut_off_and_resumes_with_its_watches(
    server_factory, clients, framed
):
    """Behind a relay (on 127.0.0.2, at the member's own ports, for the SDK
    finds the session port on the host it dialled) that stops passing the
    member's bytes on."""
    session_port = free_port()
    srv = server_factory(
        "--max-unread-bytes", str(1 << 20), "--session-port", str(session_port)
    )  # fmt: skip
    client_port = int(srv.address.rpartition(":")[2])
    relay = PausableProxy(srv.address, ("127.0.0.2", client_port))
    proxy = PausableProxy(f"127.0.0.1:{session_port}", ("127.0.0.2", session_port))
    if not framed:
        relay, proxy = proxy, relay
    try:
        slow = clients(f"127.0.0.2:{client_port}", timeout=60.0, use_session_port=framed)
        writer = clients(srv.address)
        name = "/" + "w" * 2000  # each event about 2 KB
        writer.create(name)
        changes: list = []
        slow.add_watch(name, changes.append)
        created = threading.Event()
        slow.exists("/flag", watch=lambda event: created.set())
        session = slow.client_id
        proxy.flowing.clear()  # the slow client reads nothing from now on
        changed = 0
        for _ in range(100):
            for each in [writer.set_async(name, b"") for _ in range(500)]:
                each.get(RPC_TIMEOUT)
            changed += 500
            if own_status(srv.address).unread_streams_cut:
                break
        assert own_status(srv.address).unread_streams_cut == 1
        writer.create("/flag")
        proxy.flowing.set()
        assert created.wait(30), "the one-shot watch did not carry over"
        assert slow.client_id == session
        writer.set(name, b"after")
        # the persistent watch missed nothing: what was cut off came back
        Cluster.wait_until(lambda: len(changes) == changed + 1)
    finally:
        proxy.close()
        relay.close()


def test_requests_past_max_outstanding_are_not_read_until_answered(server_factory, clients):
    """10,000 writes sent at once, nothing read: the member holds at most
    --max-outstanding-per-session of them in flight; all are answered, in
    order, once the client reads. Another client is served meanwhile."""
    srv = server_factory("--max-outstanding-per-session", "100")
    writer = clients(srv.address)
    writer.create("/n")
    raw = RawSession(srv.address)
    requests = [
        pb.ClientMessage(request=pb.Request(xid=xid, set_data=pb.SetDataRequest(path="/n")))
        for xid in range(1, 10_001)
    ]
    for start in range(0, len(requests), 1000):
        raw.send(*requests[start : start + 1000])
    writer.set("/n", b"another client")  # served while the raw one does not read
    answered = []
    while len(answered) < len(requests):
        message = raw.next_message()
        if message.WhichOneof("kind") == "response":
            assert message.response.WhichOneof("result") == "set_data", message
            answered.append(message.response.xid)
    assert answered == list(range(1, 10_001))
    most = own_status(srv.address).most_in_flight
    assert 1 < most <= 100, f"the member held {most} requests of one session"


def test_a_watch_call_that_is_not_read_is_ended_with_its_reason(server_factory, clients):
    srv = server_factory("--max-outstanding-per-session", "10")
    writer = clients(srv.address)
    name = "/" + "w" * 2000
    writer.create(name)
    with grpc.insecure_channel(srv.address) as channel:
        call = client_pb2_grpc.CoordStub(channel).Watch(
            pb.AddWatchRequest(path=name, mode=pb.PERSISTENT), timeout=120
        )
        call.initial_metadata()  # the watch is armed
        for _ in range(100):
            for each in [writer.set_async(name, b"") for _ in range(500)]:
                each.get(RPC_TIMEOUT)
            if own_status(srv.address).unread_streams_cut:
                break
        with pytest.raises(grpc.RpcError) as ended:
            for _ in call:
                pass
    assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason_of(ended.value) == "LIMIT_EXCEEDED"
    assert "did not read" in ended.value.details()
