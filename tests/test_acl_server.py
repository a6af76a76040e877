"""ACLs and authentication through real coord-server processes and raw gRPC:
the session stream's `auth`, unary `coord-auth` metadata, get_acl masking,
watch filtering, AUTH_FAILED, the super user, restarts and snapshots."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
import trustme
from cryptography import x509

from coord.acl import ADMIN, ALL, READ, digest_id
from coord.session.x509_name import rfc2253
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.rawsession import RawSession
from tests.servers import free_port

BOB = digest_id("bob:pw")
SUPER_CREDENTIAL = b"admin:root-pw"
SUPER_ARGS = ("--superuser-digest", digest_id(SUPER_CREDENTIAL.decode()))
METADATA_BOB = (("coord-auth", "digest bob:pw"),)


def entry(perms: int, scheme: str, found: str) -> pb.ACL:
    return pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=found))


def bob_only(perms: int = ALL) -> list[pb.ACL]:
    return [entry(perms, "digest", BOB)]


def auth(session: RawSession, xid: int, credential: bytes, scheme: str = "digest"):
    return session.call(xid, auth=pb.AuthRequest(scheme=scheme, credential=credential))


def code_of(response: pb.Response) -> int:
    return response.error.code if response.HasField("error") else pb.OK


def stub_for(address: str) -> client_pb2_grpc.CoordStub:
    return client_pb2_grpc.CoordStub(grpc.insecure_channel(address))


def unary_refusal(call, request, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failure:
        call(request, timeout=10, **kwargs)
    reason = dict(failure.value.trailing_metadata() or ()).get("coord-error")
    return failure.value.code(), reason


@pytest.fixture
def locked(server) -> str:
    """A server with /locked (data b"v0") that only bob may touch at all."""
    owner = RawSession(server.address)
    assert code_of(auth(owner, 1, b"bob:pw")) == pb.OK
    made = owner.call(2, create=pb.CreateRequest(path="/locked", data=b"v0", acl=bob_only()))
    assert made.HasField("create"), made
    owner.drop()
    return server.address


# ------------------------------------------------------------ the stream


def test_a_stream_without_the_credential_is_refused_until_it_authenticates(locked) -> None:
    eve = RawSession(locked)
    refused = {
        "get_data": eve.call(1, get_data=pb.GetDataRequest(path="/locked")),
        "get_children": eve.call(2, get_children=pb.GetChildrenRequest(path="/locked")),
        "exists": eve.call(3, exists=pb.ExistsRequest(path="/locked")),
        "set_data": eve.call(4, set_data=pb.SetDataRequest(path="/locked", data=b"evil")),
        "create": eve.call(5, create=pb.CreateRequest(path="/locked/c")),
        "get_acl": eve.call(6, get_acl=pb.GetAclRequest(path="/locked")),
        "set_acl": eve.call(7, set_acl=pb.SetAclRequest(path="/locked", acl=bob_only(READ))),
        "add_watch": eve.call(8, add_watch=pb.AddWatchRequest(path="/locked", mode=pb.PERSISTENT)),
    }  # fmt: skip
    assert {kind: code_of(r) for kind, r in refused.items()} == dict.fromkeys(refused, pb.NO_AUTH)
    missing = eve.call(9, exists=pb.ExistsRequest(path="/locked-not"))
    assert code_of(missing) == pb.OK  # a missing node has no ACL to refuse with
    assert code_of(auth(eve, 10, b"bob:wrong")) == pb.OK  # an id no ACL grants
    assert code_of(eve.call(11, get_data=pb.GetDataRequest(path="/locked"))) == pb.NO_AUTH
    assert code_of(auth(eve, 12, b"bob:pw")) == pb.OK
    got = eve.call(13, get_data=pb.GetDataRequest(path="/locked"))
    assert got.get_data.data == b"v0"  # nothing changed while refused
    assert got.get_data.stat.version == 0
    assert code_of(eve.call(14, set_data=pb.SetDataRequest(path="/locked", data=b"v1"))) == pb.OK


def test_auth_counts_for_the_requests_sent_after_it_in_one_frame(locked) -> None:
    session = RawSession(locked)

    def request(xid: int, **op) -> pb.ClientMessage:
        return pb.ClientMessage(request=pb.Request(xid=xid, **op))

    session.send(
        request(1, set_data=pb.SetDataRequest(path="/locked", data=b"early")),
        request(2, auth=pb.AuthRequest(scheme="digest", credential=b"bob:pw")),
        request(3, set_data=pb.SetDataRequest(path="/locked", data=b"late")),
    )
    answers = [session.next_message().response for _ in range(3)]
    assert [code_of(a) for a in answers] == [pb.NO_AUTH, pb.OK, pb.OK]
    assert answers[2].set_data.stat.version == 1


def test_a_refused_multi_changes_nothing(locked) -> None:
    eve = RawSession(locked)
    ops = [
        pb.Op(create=pb.CreateRequest(path="/free")),
        pb.Op(set_data=pb.SetDataRequest(path="/locked", data=b"x")),
    ]
    results = eve.call(1, multi=pb.MultiRequest(ops=ops)).multi.results
    assert [r.error.code for r in results] == [pb.ROLLED_BACK, pb.NO_AUTH]
    assert code_of(eve.call(2, exists=pb.ExistsRequest(path="/free"))) == pb.OK
    assert not eve.call(3, exists=pb.ExistsRequest(path="/free")).exists.HasField("stat")


def test_set_acl_checks_the_aversion_on_the_stream(server, locked) -> None:
    bob = RawSession(locked)
    auth(bob, 1, b"bob:pw")
    opened = [entry(ALL, "world", "anyone")]
    stale = bob.call(2, set_acl=pb.SetAclRequest(path="/locked", acl=opened, version=3))
    assert code_of(stale) == pb.BAD_VERSION
    done = bob.call(3, set_acl=pb.SetAclRequest(path="/locked", acl=opened, version=0))
    assert done.set_acl.stat.aversion == 1
    eve = RawSession(locked)
    assert eve.call(1, get_data=pb.GetDataRequest(path="/locked")).get_data.data == b"v0"
    # The session's set_acl and its reply went to disk: a restart keeps both.
    server.stop()
    server.start()
    resumed = RawSession(locked, bob.session_id, bob.password)
    retried = resumed.call(3, set_acl=pb.SetAclRequest(path="/locked", acl=opened, version=0))
    assert retried.set_acl == done.set_acl


def test_get_acl_hides_digest_hashes_without_admin(server) -> None:
    bob = RawSession(server.address)
    auth(bob, 1, b"bob:pw")
    acl = [entry(ALL, "digest", BOB), entry(READ, "world", "anyone")]
    bob.call(2, create=pb.CreateRequest(path="/shown", acl=acl))
    full = bob.call(3, get_acl=pb.GetAclRequest(path="/shown")).get_acl
    assert list(full.acl) == acl
    eve = RawSession(server.address)
    masked = eve.call(1, get_acl=pb.GetAclRequest(path="/shown")).get_acl
    assert [(a.perms, a.id.scheme, a.id.id) for a in masked.acl] == [
        (ALL, "digest", "bob:x"),
        (READ, "world", "anyone"),
    ]
    assert masked.stat == full.stat


def test_a_recursive_watch_hears_only_nodes_its_session_may_read(server) -> None:
    watcher = RawSession(server.address)
    watcher.call(1, create=pb.CreateRequest(path="/w"))
    added = watcher.call(2, add_watch=pb.AddWatchRequest(path="/w", mode=pb.PERSISTENT_RECURSIVE))
    assert code_of(added) == pb.OK
    bob = RawSession(server.address)
    auth(bob, 1, b"bob:pw")
    bob.call(2, create=pb.CreateRequest(path="/w/secret", acl=bob_only()))
    bob.call(3, set_data=pb.SetDataRequest(path="/w/secret", data=b"x"))
    bob.call(4, create=pb.CreateRequest(path="/w/open"))
    # Events come in order: had /w/secret's been sent, it would come first.
    first = watcher.next_event()
    assert (first.type, first.path) == (pb.CREATED, "/w/open")
    # Once the watcher proves bob's credential, it hears bob's node.
    auth(watcher, 3, b"bob:pw")
    bob.call(5, delete=pb.DeleteRequest(path="/w/secret"))
    gone = watcher.next_event()
    assert (gone.type, gone.path) == (pb.DELETED, "/w/secret")


def test_auth_failed_answers_then_ends_the_stream_but_not_the_session(server) -> None:
    session = RawSession(server.address)
    failed = auth(session, 1, b"1.2.3.4", scheme="ip")
    assert code_of(failed) == pb.AUTH_FAILED
    ending = session.next_message()
    assert ending.session_error.code == pb.AUTH_FAILED
    with pytest.raises(StopIteration):
        session.next_message()
    again = RawSession(server.address, session.session_id, session.password)
    assert code_of(again.call(1, exists=pb.ExistsRequest(path="/"))) == pb.OK


def test_an_empty_digest_credential_fails(server) -> None:
    session = RawSession(server.address)
    assert code_of(auth(session, 1, b"")) == pb.AUTH_FAILED


def test_the_super_user_may_do_everything(server_factory) -> None:
    address = server_factory(*SUPER_ARGS).address
    bob = RawSession(address)
    auth(bob, 1, b"bob:pw")
    bob.call(2, create=pb.CreateRequest(path="/bobs", data=b"b", acl=bob_only(READ)))
    root = RawSession(address)
    assert code_of(auth(root, 1, SUPER_CREDENTIAL)) == pb.OK
    calls = [
        root.call(2, get_data=pb.GetDataRequest(path="/bobs")),
        root.call(3, create=pb.CreateRequest(path="/bobs/c", acl=bob_only(READ))),
        root.call(4, set_data=pb.SetDataRequest(path="/bobs/c", data=b"x")),
        root.call(5, get_acl=pb.GetAclRequest(path="/bobs")),
        root.call(6, set_acl=pb.SetAclRequest(path="/bobs", acl=bob_only(0))),
        root.call(7, delete=pb.DeleteRequest(path="/bobs", recursive=True)),
    ]
    assert [code_of(c) for c in calls] == [pb.OK] * len(calls)
    assert calls[3].get_acl.acl[0].id.id == BOB  # unmasked: the super user has ADMIN
    # The wrong password of the super user's name is just another digest id.
    other = RawSession(address)
    auth(other, 1, b"admin:wrong")
    assert code_of(other.call(2, create=pb.CreateRequest(path="/x", acl=bob_only(0)))) == pb.OK
    assert code_of(other.call(3, get_data=pb.GetDataRequest(path="/x"))) == pb.NO_AUTH


# ------------------------------------------------------------- unary calls


def test_unary_calls_carry_credentials_in_metadata(locked) -> None:
    stub = stub_for(locked)
    get = pb.GetDataRequest(path="/locked")
    assert unary_refusal(stub.GetData, get) == (grpc.StatusCode.PERMISSION_DENIED, "NO_AUTH")
    assert stub.GetData(get, timeout=10, metadata=METADATA_BOB).data == b"v0"
    set_ = pb.SetDataRequest(path="/locked", data=b"u")
    assert unary_refusal(stub.SetData, set_) == (grpc.StatusCode.PERMISSION_DENIED, "NO_AUTH")
    assert stub.SetData(set_, timeout=10, metadata=METADATA_BOB).stat.version == 1
    two = (("coord-auth", "digest eve:pw"), ("coord-auth", "digest bob:pw"))
    assert stub.GetData(get, timeout=10, metadata=two).data == b"u"
    acl_request = pb.SetAclRequest(path="/locked", acl=[entry(READ, "world", "anyone")], version=0)
    assert unary_refusal(stub.SetACL, acl_request) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NO_AUTH",
    )
    assert stub.SetACL(acl_request, timeout=10, metadata=METADATA_BOB).stat.aversion == 1
    shown = stub.GetACL(pb.GetAclRequest(path="/locked"), timeout=10)
    assert [(a.perms, a.id.scheme, a.id.id) for a in shown.acl] == [(READ, "world", "anyone")]


@pytest.mark.parametrize("value", ["digest ", "ip 1.2.3.4", "digestbob:pw", ""])
def test_malformed_unary_credentials_are_auth_failed(server, value: str) -> None:
    stub = stub_for(server.address)
    refusal = unary_refusal(
        stub.Exists, pb.ExistsRequest(path="/"), metadata=(("coord-auth", value),)
    )
    assert refusal == (grpc.StatusCode.UNAUTHENTICATED, "AUTH_FAILED")


def test_an_invalid_acl_is_invalid_argument(server) -> None:
    stub = stub_for(server.address)
    bad = pb.CreateRequest(path="/a", acl=[entry(ALL, "world", "somebody")])
    assert unary_refusal(stub.Create, bad) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ACL")
    auth_only = pb.CreateRequest(path="/a", acl=[entry(ALL, "auth", "")])
    assert unary_refusal(stub.Create, auth_only) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ACL",
    )
    made = stub.Create(auth_only, timeout=10, metadata=METADATA_BOB)
    assert made.path == "/a"
    shown = stub.GetACL(pb.GetAclRequest(path="/a"), timeout=10, metadata=METADATA_BOB)
    assert [(a.perms, a.id.scheme, a.id.id) for a in shown.acl] == [(ALL, "digest", BOB)]


def test_the_unary_watch_stream_filters_unreadable_nodes(server) -> None:
    stub = stub_for(server.address)
    stub.Create(pb.CreateRequest(path="/w"), timeout=10)
    events = stub.Watch(pb.AddWatchRequest(path="/w", mode=pb.PERSISTENT_RECURSIVE))
    stub.Create(pb.CreateRequest(path="/w/secret", acl=bob_only()), timeout=10)
    stub.Create(pb.CreateRequest(path="/w/open"), timeout=10)
    first = next(events)
    assert (first.type, first.path) == (pb.CREATED, "/w/open")
    events.cancel()


def test_the_ip_id_is_the_callers_address(server) -> None:
    stub = stub_for(server.address)
    here = [entry(ALL, "ip", "127.0.0.0/8")]
    elsewhere = [entry(ALL, "ip", "10.0.0.0/8")]
    stub.Create(pb.CreateRequest(path="/here", acl=here), timeout=10)
    stub.Create(pb.CreateRequest(path="/elsewhere", acl=elsewhere), timeout=10)
    stub.SetData(pb.SetDataRequest(path="/here", data=b"x"), timeout=10)
    refusal = unary_refusal(stub.SetData, pb.SetDataRequest(path="/elsewhere", data=b"x"))
    assert refusal == (grpc.StatusCode.PERMISSION_DENIED, "NO_AUTH")


# ------------------------------------------------------- durability, peers


def test_acls_and_aversions_survive_a_restart(server_factory) -> None:
    member = server_factory()
    stub = stub_for(member.address)
    stub.Create(pb.CreateRequest(path="/kept", acl=bob_only()), timeout=10)
    request = pb.SetAclRequest(path="/kept", acl=bob_only(READ | ADMIN))
    stub.SetACL(request, timeout=10, metadata=METADATA_BOB)
    member.stop()
    member.start()
    stub = stub_for(member.address)
    shown = stub.GetACL(pb.GetAclRequest(path="/kept"), timeout=10, metadata=METADATA_BOB)
    assert [(a.perms, a.id.id) for a in shown.acl] == [(READ | ADMIN, BOB)]
    assert shown.stat.aversion == 1
    refusal = unary_refusal(stub.GetData, pb.GetDataRequest(path="/kept"))
    assert refusal == (grpc.StatusCode.PERMISSION_DENIED, "NO_AUTH")


def test_every_member_decides_with_the_ids_the_proposer_attached(cluster_factory) -> None:
    """A follower forwards a write with its sender's ids: the leader and
    every member apply the same refusal or the same change."""
    cluster = cluster_factory(3)
    leader = cluster.leader()
    stub_for(cluster.members[leader].address).Create(
        pb.CreateRequest(path="/bobs", acl=bob_only()), timeout=10
    )
    for member_id, member in sorted(cluster.members.items()):
        stub = stub_for(member.address)
        request = pb.SetDataRequest(path="/bobs", data=b"by %d" % member_id)
        assert unary_refusal(stub.SetData, request) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "NO_AUTH",
        )
        assert stub.SetData(request, timeout=10, metadata=METADATA_BOB).stat.version == member_id
    for member in cluster.members.values():
        stub = stub_for(member.address)
        stub.Sync(pb.SyncRequest(path="/"), timeout=30)
        got = stub.GetData(pb.GetDataRequest(path="/bobs"), timeout=10, metadata=METADATA_BOB)
        assert (got.data, got.stat.version) == (b"by 3", 3)


def test_a_snapshot_carries_acls_to_a_member_far_behind(far_behind) -> None:
    cluster, laggard = far_behind, far_behind.members[3]
    stub = stub_for(cluster.members[1].address)
    stub.Create(pb.CreateRequest(path="/bobs", acl=bob_only()), timeout=10)
    stub.SetACL(
        pb.SetAclRequest(path="/bobs", acl=bob_only(READ | ADMIN)),
        timeout=10,
        metadata=METADATA_BOB,
    )
    for i in range(150):
        stub.Create(pb.CreateRequest(path=f"/n{i}", acl=bob_only(READ)), timeout=10)
    laggard.start()
    laggard_stub = stub_for(laggard.address)
    laggard_stub.Sync(pb.SyncRequest(path="/"), timeout=30)
    shown = laggard_stub.GetACL(pb.GetAclRequest(path="/bobs"), timeout=10, metadata=METADATA_BOB)
    assert [(a.perms, a.id.id) for a in shown.acl] == [(READ | ADMIN, BOB)]
    assert shown.stat.aversion == 1
    assert any("installed a snapshot" in line for line in laggard.output)
    # Every member holds the same state, ACLs included (they are in the digest).
    assert len(cluster.digests()) == 1


# ---------------------------------------------------------------- watches


def events_after_sync(session: RawSession, xid: int) -> list[tuple[int, str]]:
    """Events delivered up to a sync's answer: what was due has arrived."""
    session.call(xid, sync=pb.SyncRequest(path="/"))
    return [(e.type, e.path) for e in session.events]


def test_a_one_shot_watch_is_used_up_unheard_once_its_node_is_unreadable(server) -> None:
    watcher = RawSession(server.address)
    watcher.call(1, create=pb.CreateRequest(path="/n"))
    assert code_of(watcher.call(2, get_data=pb.GetDataRequest(path="/n", watch=True))) == pb.OK
    bob = RawSession(server.address)
    auth(bob, 1, b"bob:pw")
    bob.call(2, set_acl=pb.SetAclRequest(path="/n", acl=bob_only()))
    bob.call(3, set_data=pb.SetDataRequest(path="/n", data=b"x"))
    bob.call(4, set_acl=pb.SetAclRequest(path="/n", acl=[entry(ALL, "world", "anyone")]))
    bob.call(5, set_data=pb.SetDataRequest(path="/n", data=b"y"))
    assert events_after_sync(watcher, 3) == []  # withheld, and the watch is spent


def test_events_replayed_on_reconnect_are_filtered_too(server) -> None:
    first = RawSession(server.address)
    first.call(1, create=pb.CreateRequest(path="/w"))
    first.call(2, add_watch=pb.AddWatchRequest(path="/w", mode=pb.PERSISTENT_RECURSIVE))
    seen = first.call(3, sync=pb.SyncRequest(path="/")).zxid
    first.drop()
    bob = RawSession(server.address)
    auth(bob, 1, b"bob:pw")
    bob.call(2, create=pb.CreateRequest(path="/w/secret", acl=bob_only()))
    bob.call(3, create=pb.CreateRequest(path="/w/open"))
    held = (pb.WatchRegistration(path="/w", kind=pb.PERSISTENT_RECURSIVE_WATCH),)
    resumed = RawSession(
        server.address, first.session_id, first.password, last_zxid=seen, watches=held
    )
    assert events_after_sync(resumed, 1) == [(pb.CREATED, "/w/open")]
    resumed.drop()
    # Credentials sent with the connect count for the watches it re-arms.
    proven = pb.ClientMessage(
        request=pb.Request(xid=1, auth=pb.AuthRequest(scheme="digest", credential=b"bob:pw"))
    )
    again = RawSession(
        server.address,
        first.session_id,
        first.password,
        last_zxid=seen,
        watches=held,
        with_connect=(proven,),
    )
    answered = again.next_message().response  # answered before the replayed events
    assert (answered.xid, code_of(answered)) == (1, pb.OK)
    assert events_after_sync(again, 2) == [(pb.CREATED, "/w/secret"), (pb.CREATED, "/w/open")]


@pytest.mark.parametrize(
    "value", ["admin:password", "admin", ":D/InIHSb7yEEbrWz8b9l71RjZJU=", "admin:AAAA"]
)
def test_a_superuser_digest_that_is_not_one_is_refused_in_one_line(tmp_path, value: str) -> None:
    """A password given where its digest belongs would be a super user no
    one can prove: refuse it at start."""
    result = subprocess.run(
        [sys.executable, "-m", "coord.cli", "--listen", f"127.0.0.1:{free_port()}",
         "--data-dir", str(tmp_path / "data"), "--superuser-digest", value],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"coord-server: argument --superuser-digest: {value!r} is not "
        "user:BASE64(SHA1(user:password)) (ZooKeeper's digest form)"
    ]


# ------------------------------------------------------------------- x509


def test_a_client_certificate_is_an_x509_id(server_factory, tmp_path) -> None:
    """Over mutual TLS the certificate's subject (as ZooKeeper spells it) is
    an id: `auth:` expands to it, and it opens a node to its holder only."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    served = ca.issue_cert("127.0.0.1")
    server_cert, server_key = tmp_path / "server.pem", tmp_path / "server.key"
    server_cert.write_bytes(b"".join(blob.bytes() for blob in served.cert_chain_pems))
    served.private_key_pem.write_to_path(str(server_key))
    member = server_factory(
        "--tls-cert", str(server_cert), "--tls-key", str(server_key), "--tls-ca", str(ca_file)
    )

    def stub_as(name: str) -> tuple[client_pb2_grpc.CoordStub, str]:
        leaf = ca.issue_cert(
            f"{name}@example.org",
            common_name=name,
            organization_name="Example",
            organization_unit_name="Engineering",
        )
        credentials = grpc.ssl_channel_credentials(
            ca.cert_pem.bytes(),
            leaf.private_key_pem.bytes(),
            b"".join(blob.bytes() for blob in leaf.cert_chain_pems),
        )
        subject = rfc2253(x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).subject)
        return client_pb2_grpc.CoordStub(grpc.secure_channel(member.address, credentials)), subject

    (alice, alice_subject), (carol, _) = stub_as("alice"), stub_as("carol")
    assert alice_subject == "CN=alice,OU=Engineering,O=Example"
    alice.Create(pb.CreateRequest(path="/alices", acl=[entry(ALL, "auth", "")]), timeout=10)
    shown = alice.GetACL(pb.GetAclRequest(path="/alices"), timeout=10)
    assert [(a.perms, a.id.scheme, a.id.id) for a in shown.acl] == [(ALL, "x509", alice_subject)]
    assert alice.GetData(pb.GetDataRequest(path="/alices"), timeout=10).stat.aversion == 0
    refusal = unary_refusal(carol.GetData, pb.GetDataRequest(path="/alices"))
    assert refusal == (grpc.StatusCode.PERMISSION_DENIED, "NO_AUTH")
