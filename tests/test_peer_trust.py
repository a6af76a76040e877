"""How members come to trust each other, as an operator sets it up, through
real processes: a cluster without peer credentials does not start (unless
--insecure-peers says so), --peer-listen moves Peer and Admin off the client
port, peer TLS names each member in its certificate, and coord-cluster makes
a secret of its own. Status still shows every member through the peer door.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import trustme

from coord.rpc.member_trust import PEER
from coord.rpc.peer_auth import load_secret, sign, write_new_secret
from coord.wire import admin_pb2, admin_pb2_grpc, peer_pb2, peer_pb2_grpc
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.member_methods import call, member_methods
from tests.rawlink import RawLink, link_port
from tests.servers import Cluster, ServerProcess, free_port, free_ports_in_a_row
from tests.tlscerts import Certs, server_flags

SERVER = [sys.executable, "-m", "coord.cli"]


def two_members() -> list[str]:
    return ["--members", f"1=127.0.0.1:{free_port()},2=127.0.0.1:{free_port()}"]


def all_answer(cluster: Cluster, member_id: int) -> None:
    """Wait until `member_id`'s Status shows every member answering for
    itself (a loaded machine may make a first answer late)."""
    cluster.wait_until(
        lambda: {s.role for s in cluster.status(member_id)} == {"leader", "follower"}
    )


def roles(stub: client_pb2_grpc.CoordStub) -> set[str]:
    """The roles of all members in one Status answer."""
    return {m.role for m in stub.Status(pb.StatusRequest(), timeout=10).members}


def refused_start(tmp_path: Path, *flags: str) -> str:
    """The one line a member that must not start says, on stderr."""
    result = subprocess.run(
        [*SERVER, "--data-dir", str(tmp_path / "data"), *flags],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ready" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coord-server: "), result.stderr
    return lines[0]


def test_a_cluster_without_peer_credentials_does_not_start(tmp_path):
    line = refused_start(tmp_path, *two_members())
    assert "--cluster-secret-file" in line and "--insecure-peers" in line


def secret_file(tmp_path: Path, mode: int = 0o600, text: str | None = None) -> Path:
    path = tmp_path / "secret"
    if text is None:
        write_new_secret(path)
    else:
        path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("case", "mention"),
    [
        ("open-to-others", "chmod 600"),
        ("too-short", "16 to 4096 bytes"),
        ("missing", "cannot read"),
        ("with-insecure-peers", "contradicts"),
    ],
)
def test_an_unusable_secret_is_one_line(tmp_path, case, mention):
    path = {
        "open-to-others": lambda: secret_file(tmp_path, mode=0o644),
        "too-short": lambda: secret_file(tmp_path, text="short\n"),
        "missing": lambda: tmp_path / "no-such-secret",
        "with-insecure-peers": lambda: secret_file(tmp_path),
    }[case]()
    extra = ["--insecure-peers"] if case == "with-insecure-peers" else []
    line = refused_start(tmp_path, *two_members(), "--cluster-secret-file", str(path), *extra)
    assert mention in line


PEER_FLAGS = {
    "tls-half-given": (["--peer-tls-cert", "c.pem"], "go together"),
    "tls-on-the-client-port": (
        ["--peer-tls-cert", "c", "--peer-tls-key", "k", "--peer-tls-ca", "a"],
        "--peer-listen",
    ),
    "peer-port-for-some": (["--members", "1=127.0.0.1:7001/7011,2=127.0.0.1:7002"], "/PEER_PORT"),
    "peer-listen-without-peer-ports": (
        ["--peer-listen", "127.0.0.1:7011", "--insecure-peers", *two_members()],
        "/PEER_PORT",
    ),
    "bad-peer-port": (["--members", "1=127.0.0.1:7001/x"], "HOST:PORT/PEER_PORT"),
    "link-port-out-of-range": (["--link-port", "70000"], "not a port"),
    "link-port-not-a-number": (["--link-port", "x"], "not a port"),
}


def test_a_link_port_in_use_is_one_line(tmp_path):
    secret = secret_file(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        flags = ["--link-port", str(port), "--cluster-secret-file", str(secret)]
        line = refused_start(tmp_path, *two_members(), *flags)
    assert f"cannot listen for peer links on 127.0.0.1:{port}" in line


def test_members_link_on_the_ports_given(tmp_path):
    """--link-port: the port a firewall lets through between members."""
    cluster = Cluster.create(tmp_path, 3)
    ports = {member_id: free_port() for member_id in cluster.members}
    for member_id, member in cluster.members.items():
        member.extra_args += ["--link-port", str(ports[member_id])]
    try:
        cluster.start()
        cluster.leader()
        all_answer(cluster, 1)
        for member_id, member in cluster.members.items():
            asker = member_id % 3 + 1
            proof = sign(load_secret(member.secret_file), PEER + "Link", asker, member_id)
            assert link_port(member, proof) == ports[member_id]
    finally:
        cluster.stop()


@pytest.mark.parametrize("case", PEER_FLAGS, ids=PEER_FLAGS)
def test_bad_peer_flags_are_one_line(tmp_path, case):
    flags, mention = PEER_FLAGS[case]
    assert mention in refused_start(tmp_path, *flags)


def test_insecure_peers_is_said_out_loud_and_works(tmp_path):
    cluster = Cluster.create(tmp_path, 3, "--insecure-peers", secret=False)
    try:
        cluster.start()
        cluster.leader()
        assert any("--insecure-peers" in line for line in cluster.members[1].output)
        all_answer(cluster, 1)
    finally:
        cluster.stop()


def test_peer_listen_keeps_peers_off_the_client_port(tmp_path):
    cluster = Cluster.create(tmp_path, 3, peer_ports=True)
    try:
        cluster.start()
        cluster.leader()
        all_answer(cluster, 3)
        for member in cluster.members.values():
            assert member.peer_address != member.address
            with grpc.insecure_channel(member.address) as channel:
                for method in member_methods():
                    metadata = member.admin_metadata(method.path.rsplit("/", 1)[1])
                    code, _ = call(channel, method, b"", metadata)
                    assert code == grpc.StatusCode.UNIMPLEMENTED, method.path
            assert member.admin("StateDigest", admin_pb2.DigestRequest()).sha256
    finally:
        cluster.stop()


@pytest.fixture
def tls_cluster(tmp_path) -> Iterator[tuple[Cluster, trustme.CA, Path]]:
    """Three members that know each other by certificate only (no secret)."""
    ca = trustme.CA()
    certs = tmp_path / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(certs / "ca.pem")
    cluster = Cluster.create(tmp_path / "cluster", 3, peer_ports=True, secret=False)
    for member_id, member in cluster.members.items():
        cert = ca.issue_cert(f"member-{member_id}")
        cert.cert_chain_pems[0].write_to_path(certs / f"{member_id}.pem")
        cert.private_key_pem.write_to_path(certs / f"{member_id}.key")
        member.extra_args += [
            "--peer-tls-cert", str(certs / f"{member_id}.pem"),
            "--peer-tls-key", str(certs / f"{member_id}.key"),
            "--peer-tls-ca", str(certs / "ca.pem"),
        ]  # fmt: skip
    try:
        yield cluster.start(), ca, certs
    finally:
        cluster.stop()


def tls_channel(
    member: ServerProcess, ca: trustme.CA, cert: trustme.LeafCert | None
) -> grpc.Channel:
    """A TLS channel to the member's peer door that trusts the cluster's CA
    and shows `cert` (or none)."""
    key, chain = (
        (cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes()) if cert else (None, None)
    )
    credentials = grpc.ssl_channel_credentials(ca.cert_pem.bytes(), key, chain)
    options = [("grpc.ssl_target_name_override", f"member-{member.member_id}")]
    return grpc.secure_channel(member.peer_address, credentials, options=options)


def test_peer_tls_members_know_each_other_by_certificate(tls_cluster):
    cluster, ca, _ = tls_cluster
    cluster.leader()
    all_answer(cluster, 1)
    tool = ca.issue_cert("member-1")  # an admin tool given member 1's certificate
    with tls_channel(cluster.members[2], ca, tool) as channel:
        stub = admin_pb2_grpc.AdminStub(channel)
        assert stub.StateDigest(admin_pb2.DigestRequest(), timeout=10).sha256


def test_peer_tls_refuses_other_certificates(tls_cluster):
    cluster, ca, _ = tls_cluster
    leader = cluster.leader()
    tool = ca.issue_cert("member-1")
    impostor = trustme.CA().issue_cert(f"member-{leader}")  # the right name, another CA
    nobody = ca.issue_cert("intruder")  # the right CA, no member's name
    for member in cluster.members.values():
        with tls_channel(member, ca, tool) as channel:
            stub = admin_pb2_grpc.AdminStub(channel)
            before = stub.StateDigest(admin_pb2.DigestRequest(), timeout=10)
        for method in member_methods():
            snapshot = peer_pb2.SnapshotChunk(src=leader, slot=1 << 40, last=True)
            request = snapshot.SerializeToString() if method.path.endswith("Snapshot") else b""
            with grpc.insecure_channel(member.peer_address) as plain:
                assert call(plain, method, request)[0] == grpc.StatusCode.UNAVAILABLE
            for cert in (None, impostor):
                with tls_channel(member, ca, cert) as channel:
                    assert call(channel, method, request)[0] == grpc.StatusCode.UNAVAILABLE
            with tls_channel(member, ca, nobody) as channel:
                code, details = call(channel, method, request)
                assert code == grpc.StatusCode.UNAUTHENTICATED, method.path
                assert "names no member" in details
        with tls_channel(member, ca, tool) as channel:
            stub = admin_pb2_grpc.AdminStub(channel)
            after = stub.StateDigest(admin_pb2.DigestRequest(), timeout=10)
        assert (after.zxid, after.sha256) == (before.zxid, before.sha256)


def link_context(ca: trustme.CA, cert: trustme.LeafCert | None) -> ssl.SSLContext:
    """TLS for a link opened by hand: trusts the cluster's CA, shows `cert` (or none)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def test_peer_tls_links_need_a_member_certificate(tls_cluster):
    cluster, ca, _ = tls_cluster
    cluster.leader()
    tool = ca.issue_cert("member-1")
    impostor = trustme.CA().issue_cert("member-1")  # the right name, another CA
    nobody = ca.issue_cert("intruder")  # the right CA, no member's name
    member = cluster.members[2]
    with tls_channel(member, ca, tool) as channel:
        port = link_port(member, (), channel)
    for cert in (None, impostor):  # the handshake fails: nothing is read
        with RawLink(port, link_context(ca, cert), "member-2") as link:
            with contextlib.suppress(OSError):
                link.send(peer_pb2.LinkHello())
            assert link.closed()
    with RawLink(port, link_context(ca, nobody), "member-2") as link:
        assert "names no member" in link.hello(()).refused
        assert link.closed()
    with RawLink(port, link_context(ca, tool), "member-2") as link:
        assert link.hello(()).refused == ""  # the control


def test_coord_cluster_makes_a_secret_for_its_members(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "coord.local_cluster", "--size", "3", "--data-dir", str(data),
         "--base-port", str(free_ports_in_a_row(3))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        hosts: list[str] = []

        def connect_string() -> None:
            """The members' ready lines come first, on the same stdout."""
            for line in proc.stdout:
                if not line.startswith("coord-server"):
                    hosts.append(line.strip())
                    return

        read = threading.Thread(target=connect_string, daemon=True)
        read.start()
        read.join(60)
        assert hosts and hosts[0], "coord-cluster printed no connect string"
        secret = data / "cluster-secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        first = hosts[0].split(",")[0]
        with grpc.insecure_channel(first) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            Cluster.wait_until(lambda: roles(stub) == {"leader", "follower"})
            chunk = peer_pb2.SnapshotChunk(src=1, slot=1 << 40, last=True)
            with pytest.raises(grpc.RpcError) as refused:
                peer_pb2_grpc.PeerStub(channel).InstallSnapshot(iter([chunk]), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_status_of_an_unreachable_member_still_says_so(tmp_path):
    """A member down is shown unreachable, not as an error of the call."""
    cluster = Cluster.create(tmp_path, 3)
    try:
        cluster.start()
        cluster.leader()
        cluster.members[3].stop()
        roles = {s.id: s.role for s in cluster.status(1)}
        assert roles[3] == "unreachable" and roles[1] in ("leader", "follower")
    finally:
        cluster.stop()


def test_mutual_tls_for_clients_and_a_peer_port_show_every_member(tmp_path):
    """Clients must show a certificate on the client port; members, asking
    each other for Status at their peer doors, need none."""
    certs = Certs.make(tmp_path / "certs")
    flags = server_flags(certs.server, certs.ca)
    cluster = Cluster.create(tmp_path / "cluster", 3, *flags, peer_ports=True)
    credentials = grpc.ssl_channel_credentials(
        certs.ca.read_bytes(), certs.alice.key.read_bytes(), certs.alice.cert.read_bytes()
    )
    try:
        cluster.start()
        with grpc.secure_channel(cluster.members[1].address, credentials) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            Cluster.wait_until(lambda: roles(stub) == {"leader", "follower"})
    finally:
        cluster.stop()


def test_a_peer_key_of_another_certificate_is_one_line(tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    ca.issue_cert("member-1").cert_chain_pems[0].write_to_path(tmp_path / "1.pem")
    ca.issue_cert("member-2").private_key_pem.write_to_path(tmp_path / "2.key")
    members = f"1=127.0.0.1:{free_port()}/{free_port()},2=127.0.0.1:{free_port()}/{free_port()}"
    line = refused_start(
        tmp_path, "--members", members,
        "--peer-tls-cert", str(tmp_path / "1.pem"), "--peer-tls-key", str(tmp_path / "2.key"),
        "--peer-tls-ca", str(tmp_path / "ca.pem"),
    )  # fmt: skip
    assert "--peer-tls-key" in line and "does not match" in line
