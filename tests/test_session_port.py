"""The session port (README "The session port"): coord's own session
protocol in length-prefixed frames on a TCP port of its own, which the SDK
takes when a member offers it. Through real members: the SDK on it
(plaintext, TLS, mutual TLS with its x509 id), the gRPC stream where it is
turned off, and what an attacker may send it: no connect, lengths over the
limit, bytes that are not frames, silence, more connections than admitted,
plaintext on a TLS port. The same session's semantics are tested through
it by the rest of the suite (every SDK test), and its requests' refusals in
test_attack_client.py (framed=True)."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import threading
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509
from google.protobuf.message import DecodeError

from coord.session.x509_name import certificate_subject
from coord_api.frames import LENGTH, frame
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client, aio
from coord_client.aio.stream import AioFramedStream, AioStream
from coord_client.exceptions import NoAuthError
from coord_client.framed import FramedStream
from coord_client.security import make_acl
from coord_client.stream import Stream
from tests.rawsession import RawSession, SessionRefused, server_frames, session_port_connection
from tests.servers import Cluster, ServerProcess, free_port
from tests.test_limits import PausableProxy, own_status
from tests.tlscerts import Certs, server_flags

CONNECT = pb.ClientMessage(connect=pb.Connect(timeout_ms=10_000))


def offered_port(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        return stub.SessionPort(pb.SessionPortRequest(), timeout=10).port


def answers(sock: socket.socket) -> list[pb.ServerMessage]:
    """Everything the member sends until it ends the connection."""
    return [message for server_frame in server_frames(sock) for message in server_frame.messages]


def refusal(sock: socket.socket) -> pb.Error:
    """The one message a refused connection gets before it ends."""
    (message,) = answers(sock)
    assert message.WhichOneof("kind") == "session_error", message
    return message.session_error


def _serves(address: str) -> bool:
    try:
        still_serves(address)
    except SessionRefused:
        return False
    return True


def still_serves(address: str) -> None:
    session = RawSession(address, framed=True)
    try:
        response = session.call(1, exists=pb.ExistsRequest(path="/"))
        assert response.WhichOneof("result") == "exists", response
    finally:
        session.drop()


@pytest.fixture
def member(server_factory) -> ServerProcess:
    return server_factory("--max-sessions-per-ip", "4")


# ------------------------------------------------------------------ the SDK


def test_the_sdk_takes_the_session_port_a_member_offers(member, clients):
    zk = clients(member.address)
    assert isinstance(zk._stream, FramedStream)
    zk.create("/framed", b"v", ephemeral=True)
    assert zk.get("/framed")[0] == b"v"
    other = clients(member.address, use_session_port=False)
    assert isinstance(other._stream, Stream)
    assert other.get("/framed")[0] == b"v"
    zk.stop()
    assert other.exists("/framed") is None  # its session closed on the session port


@pytest.mark.parametrize("framed", [True, False], ids=["session port", "stream"])
def test_a_frame_whose_answers_outgrow_the_unread_limit_is_answered_in_full(server_factory, framed):
    """One frame of 400 gets of a 1 KB node: 400 KB of answers against
    --max-unread-bytes 64 KiB. A client that reads gets them all: the
    member writes while it takes the frame, rather than cutting it off."""
    member = server_factory("--max-unread-bytes", str(64 << 10))
    session = RawSession(member.address, framed=framed)
    try:
        created = session.call(1, create=pb.CreateRequest(path="/big", data=b"x" * 1000))
        assert created.WhichOneof("result") == "create", created
        gets = [
            pb.ClientMessage(request=pb.Request(xid=xid, get_data=pb.GetDataRequest(path="/big")))
            for xid in range(2, 402)
        ]
        session.send(*gets)
        answered = [session.next_message() for _ in gets]
    finally:
        session.drop()
    assert [m.response.xid for m in answered] == list(range(2, 402))
    assert all(m.response.get_data.data == b"x" * 1000 for m in answered)
    assert own_status(member.address).unread_streams_cut == 0


def test_answers_gathered_behind_a_write_then_a_large_one_reach_a_reading_client(server_factory):
    """A set, then 20 gets of a 1 KB node and one of a 50 KB node, in one
    frame, against --max-unread-bytes 64 KiB: the gets wait behind the
    set, so its apply answers all 22 in one turn, 20 KB gathered for the
    turn's end when the large one comes. What waits is written before the
    answer that would take it over the limit: a client that reads is
    answered in full, not cut off."""
    member = server_factory("--max-unread-bytes", str(64 << 10))
    session = RawSession(member.address, framed=True)
    try:
        for xid, path, size in ((1, "/small", 1000), (2, "/large", 50_000)):
            created = session.call(xid, create=pb.CreateRequest(path=path, data=b"x" * size))
            assert created.WhichOneof("result") == "create", created
        requests = [pb.Request(xid=3, set_data=pb.SetDataRequest(path="/small", data=b"y" * 1000))]
        requests += [
            pb.Request(xid=xid, get_data=pb.GetDataRequest(path="/small")) for xid in range(4, 24)
        ]
        requests.append(pb.Request(xid=24, get_data=pb.GetDataRequest(path="/large")))
        session.send(*(pb.ClientMessage(request=request) for request in requests))
        answered = [session.next_message() for _ in requests]
    finally:
        session.drop()
    assert [m.response.xid for m in answered] == list(range(3, 25))
    assert answered[0].response.WhichOneof("result") == "set_data", answered[0]
    assert all(m.response.get_data.data == b"y" * 1000 for m in answered[1:-1])
    assert answered[-1].response.get_data.data == b"x" * 50_000
    assert own_status(member.address).unread_streams_cut == 0


def test_the_answers_one_apply_makes_leave_in_a_few_frames(cluster_factory):
    """200 creates in one frame to the leader's member, chosen in a slot or
    two once a follower's vote comes in (a later turn than the frame's):
    while more answers are owed, those a turn makes wait for its end and go
    as one frame (each in a frame of its own would be a write and a wake
    each); the last is written at once."""
    cluster = cluster_factory(3)
    sock = session_port_connection(cluster.members[cluster.leader()].address)
    try:
        sock.sendall(frame(pb.ClientFrame(messages=[CONNECT])))
        frames = server_frames(sock)
        (connected,) = next(frames).messages
        assert connected.WhichOneof("kind") == "connected", connected
        creates = [
            pb.ClientMessage(
                request=pb.Request(xid=xid, create=pb.CreateRequest(path=f"/gathered-{xid}"))
            )
            for xid in range(1, 201)
        ]
        sock.sendall(frame(pb.ClientFrame(messages=creates)))
        answered: list[pb.ServerMessage] = []
        count = 0
        while len(answered) < len(creates):
            answered.extend(next(frames).messages)
            count += 1
    finally:
        sock.close()
    assert [m.response.xid for m in answered] == list(range(1, 201))
    assert all(m.response.WhichOneof("result") == "create" for m in answered)
    assert count <= 10, f"200 answers in {count} frames"


def test_requests_from_many_threads_small_and_large_keep_their_order(member, clients):
    """A request goes straight from its caller's thread when nothing waits,
    else through the sender: from several threads at once, with values
    above and below what a caller writes itself, and calls in flight,
    every answer is its own request's (an overtaking write would break the
    session's order, and the protocol with it)."""
    zk = clients(member.address)
    assert isinstance(zk._stream, FramedStream)
    failures: list[str] = []

    def work(n: int) -> None:
        path = zk.create(f"/t{n}", b"")
        for i in range(60):
            value = bytes([i]) * (100_000 if i % 3 == 0 else 10)
            pending = [zk.set_async(path, value), zk.exists_async(path)]
            stat = zk.set(path, value)
            data, _ = zk.get(path)
            if data != value or stat.version != 2 * i + 2:
                failures.append(f"{path} round {i}: {len(data)} bytes, version {stat.version}")
            for each in pending:
                each.get(timeout=30)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_asyncio_sdk_takes_it_too(member):
    async def main() -> None:
        async with aio.Client(member.address) as zk:
            assert isinstance(zk._stream, AioFramedStream)
            await zk.create("/aio", b"v", ephemeral=True)
            assert (await zk.get("/aio"))[0] == b"v"
            async with aio.Client(member.address, use_session_port=False) as other:
                assert isinstance(other._stream, AioStream)
                assert (await other.get("/aio"))[0] == b"v"

    asyncio.run(main())


def test_a_member_started_with_session_port_off_offers_none(server_factory, clients):
    member = server_factory("--session-port", "off")
    assert offered_port(member.address) == 0
    zk = clients(member.address)
    assert isinstance(zk._stream, Stream)
    zk.create("/grpc", b"v")
    assert zk.get("/grpc")[0] == b"v"


def test_an_unreachable_session_port_leaves_the_session_on_the_stream(member, clients):
    """As behind a forwarded client port: the client reaches the member
    through a relay on 127.0.0.2 at the client port alone, so the session
    port it is offered cannot be reached there."""
    port = int(member.address.rpartition(":")[2])
    relay = PausableProxy(member.address, ("127.0.0.2", port))
    try:
        zk = clients(relay.address)
        assert isinstance(zk._stream, Stream)
        assert zk._session_port_unreachable == {relay.address}
        zk.create("/relayed", b"v")
        assert zk.get("/relayed")[0] == b"v"
    finally:
        relay.close()


def test_a_pinned_session_port_is_the_one_offered(server_factory):
    port = free_port()
    member = server_factory("--session-port", str(port))
    assert offered_port(member.address) == port
    still_serves(member.address)


# ------------------------------------------------------------ hostile input


def test_a_first_frame_without_connect_is_refused(member):
    with session_port_connection(member.address) as sock:
        ping = pb.ClientMessage(ping=pb.Ping())
        sock.sendall(frame(pb.ClientFrame(messages=[ping])))
        error = refusal(sock)
    assert error.code == pb.BAD_ARGUMENTS
    assert error.message == "the first message of a session must be connect"
    with session_port_connection(member.address) as sock:
        sock.sendall(LENGTH.pack(0))  # an empty frame
        assert refusal(sock).code == pb.BAD_ARGUMENTS


def test_a_length_over_the_limit_is_refused_unread(server_factory):
    member = server_factory("--max-request-bytes", "4096", "--max-data-bytes", "1024")
    with session_port_connection(member.address) as sock:
        sock.sendall(LENGTH.pack(4097))  # and not one byte of the body
        error = refusal(sock)
    assert error.code == pb.LIMIT_EXCEEDED
    assert "4097 bytes" in error.message and "--max-request-bytes 4096" in error.message
    session = RawSession(member.address, framed=True)  # later in a session: the same
    session.send(pb.ClientMessage(request=pb.Request(xid=1, sync=pb.SyncRequest(path="/"))))
    session._sock.sendall(LENGTH.pack(1 << 30))
    rest = answers(session._sock)
    assert rest[-1].session_error.code == pb.LIMIT_EXCEEDED, rest
    session.drop()
    still_serves(member.address)


def test_bytes_that_are_not_a_frame_are_refused(member):
    with session_port_connection(member.address) as sock:
        sock.sendall(LENGTH.pack(3) + b"\xff\xff\xff")
        error = refusal(sock)
    assert error.code == pb.BAD_ARGUMENTS
    assert "ClientFrame" in error.message


def test_random_bytes_end_the_connection_and_nothing_else(member):
    with grpc.insecure_channel(member.address) as channel:
        before = client_pb2_grpc.CoordStub(channel).Status(pb.StatusRequest(local_only=True))
    generator = random.Random(12)
    for _ in range(40):
        garbage = generator.randbytes(generator.randrange(1, 300))
        with session_port_connection(member.address) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            for message in answers(sock):  # whatever it is, it ends
                assert message.WhichOneof("kind") in ("session_error", "connected"), message
    with grpc.insecure_channel(member.address) as channel:
        after = client_pb2_grpc.CoordStub(channel).Status(pb.StatusRequest(local_only=True))
    assert after.members[0].znodes == before.members[0].znodes
    still_serves(member.address)


def test_silent_connections_count_against_the_session_limits_until_closed(member):
    """--max-sessions-per-ip 4: four silent connections hold the address's
    four places; a fifth, through either door, is refused at once; the
    member closes the silent ones itself (after its connect timeout, 10 s,
    saying nothing), and a session opens again."""
    silent = [session_port_connection(member.address) for _ in range(4)]
    try:
        with session_port_connection(member.address) as fifth:
            error = refusal(fifth)
        assert error.code == pb.LIMIT_EXCEEDED
        assert "--max-sessions-per-ip 4" in error.message
        with pytest.raises(SessionRefused) as refused:
            RawSession(member.address)
        assert refused.value.answer.session_error.code == pb.LIMIT_EXCEEDED
        for sock in silent:
            sock.settimeout(60)
            assert sock.recv(1) == b""  # closed by the member
        Cluster.wait_until(lambda: _serves(member.address))  # once it counted them gone
    finally:
        for sock in silent:
            sock.close()


# --------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs.make(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def mutual(tmp_path_factory, certs) -> Iterator[ServerProcess]:
    member = ServerProcess(
        tmp_path_factory.mktemp("mutual"), extra_args=server_flags(certs.server, certs.ca)
    )
    try:
        yield member.start()
    finally:
        member.stop()


def _alice(member: ServerProcess, certs: Certs, **options) -> Client:
    return Client(
        member.address, use_ssl=True, ca=str(certs.ca),
        certfile=str(certs.alice.cert), keyfile=str(certs.alice.key), **options,
    )  # fmt: skip


def test_mutual_tls_on_the_session_port_names_the_client_by_its_certificate(mutual, certs):
    subject = certificate_subject(x509.load_pem_x509_certificate(certs.alice.cert.read_bytes()))
    alice = _alice(mutual, certs)
    alice.start(timeout=30)
    try:
        assert isinstance(alice._stream, FramedStream)
        alice.create("/alices", b"hers", acl=[make_acl("x509", subject, all=True)])
        assert alice.get("/alices")[0] == b"hers"
    finally:
        alice.stop()
    again = _alice(mutual, certs, use_session_port=False)  # and over gRPC, the same name
    again.start(timeout=30)
    try:
        assert again.get("/alices")[0] == b"hers"
    finally:
        again.stop()


def test_the_tls_session_port_serves_no_plaintext_and_no_stranger(mutual, certs):
    port = _tls_port(mutual, certs)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(frame(pb.ClientFrame(messages=[CONNECT])))
        assert first_answer(sock) is None
    for pair in (certs.stranger, None):  # a certificate of another CA, or none
        context = ssl.create_default_context(cafile=str(certs.ca))
        if pair is not None:
            context.load_cert_chain(str(pair.cert), str(pair.key))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            try:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                    sock.sendall(frame(pb.ClientFrame(messages=[CONNECT])))
                    answer = first_answer(sock)
            except (ssl.SSLError, ConnectionError):
                answer = None
        assert answer is None, answer
    alice = ssl.create_default_context(cafile=str(certs.ca))
    alice.load_cert_chain(str(certs.alice.cert), str(certs.alice.key))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        alice.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(frame(pb.ClientFrame(messages=[CONNECT])))
        assert first_answer(sock).WhichOneof("kind") == "connected"  # the test can fail


def test_the_asyncio_sdk_over_mutual_tls_on_the_session_port(mutual, certs):
    async def main() -> bytes:
        async with aio.Client(
            mutual.address, use_ssl=True, ca=str(certs.ca),
            certfile=str(certs.alice.cert), keyfile=str(certs.alice.key),
        ) as zk:  # fmt: skip
            assert isinstance(zk._stream, AioFramedStream)
            await zk.create("/aio-alice", b"hers", ephemeral=True)
            return (await zk.get("/aio-alice"))[0]

    assert asyncio.run(main()) == b"hers"


def test_no_auth_is_still_no_auth_on_the_tls_session_port(mutual, certs):
    """An ACL that names another certificate refuses alice here as well."""
    alice = _alice(mutual, certs)
    alice.start(timeout=30)
    try:
        alice.create("/bobs", b"", acl=[make_acl("x509", "CN=bob", all=True)])
        with pytest.raises(NoAuthError):
            alice.get("/bobs")
    finally:
        alice.stop()


def _tls_port(member: ServerProcess, certs: Certs) -> int:
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.load_cert_chain(str(certs.alice.cert), str(certs.alice.key))
    credentials = grpc.ssl_channel_credentials(
        certs.ca.read_bytes(), certs.alice.key.read_bytes(), certs.alice.cert.read_bytes()
    )
    with grpc.secure_channel(member.address, credentials) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        return stub.SessionPort(pb.SessionPortRequest(), timeout=10).port


def first_answer(sock: socket.socket) -> pb.ServerMessage | None:
    """The first message the member sends; None when it hangs up instead
    (or sends what is not a frame of ours: a TLS alert)."""
    try:
        server_frame = next(server_frames(sock), None)
    except (ssl.SSLError, ConnectionError, EOFError, DecodeError):
        return None
    return server_frame.messages[0] if server_frame is not None else None
