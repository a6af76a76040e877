"""ZooKeeper's own protocol on a member's --zk-listen port (coord/zk/):
ZooKeeper's clients, unmodified, against real members (kazoo; Debian's
Java client, C client and Curator, skipped where they are not installed);
raw sockets for what a client library would never send. How kazoo fares
against the real ZooKeeper, step by step, is test_acl_vs_zookeeper.py's
(every ACL scenario also runs through this door)."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_acl, make_digest_acl

from coord.zk.codes import Op
from coord_client import Client
from tests import zookeeper
from tests.servers import Cluster, ServerProcess, free_port, free_ports_in_a_row
from tests.tlscerts import Certs, Pair

MAX_REQUEST = 64 << 10
NODE_DATA_CHANGED, SYNC_CONNECTED = 3, 3  # a WatcherEvent's type and state
OPEN_ACL = struct.pack(">iii", 1, 31, 5) + b"world" + struct.pack(">i", 6) + b"anyone"


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("zk-door") / "data",
        extra_args=["--max-request-bytes", str(MAX_REQUEST), "--max-data-bytes", "1024"],
        zk_port=free_port(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kazoo(member: ServerProcess) -> Iterator[KazooClient]:
    client = KazooClient(hosts=member.zk_address, timeout=10)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


# ------------------------------------------------------------- raw frames


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def connect_request(session_id: int = 0, password: bytes = b"", timeout_ms: int = 10_000) -> bytes:
    body = struct.pack(">iqiq", 0, 0, timeout_ms, session_id)
    return frame(body + struct.pack(">i", len(password)) + password + b"\0")


def read_frame(sock: socket.socket) -> bytes:
    """The next frame's body; b"" if the member closed the connection."""
    head = _exactly(sock, 4)
    if len(head) < 4:
        return b""
    return _exactly(sock, struct.unpack(">i", head)[0])


def _exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def raw(member: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", member.zk_port), timeout=10)
    return sock


def connected(member: ServerProcess) -> socket.socket:
    """A raw connection with a new session."""
    sock = raw(member)
    sock.sendall(connect_request())
    answer = read_frame(sock)
    _, timeout_ms, session_id = struct.unpack_from(">iiq", answer)
    assert timeout_ms > 0 and session_id
    return sock


def closed_by_member(sock: socket.socket) -> bool:
    """Whether the member ended the connection (after anything it sent)."""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return True
        if not chunk:
            return True


def reply_header(body: bytes) -> tuple[int, int, int]:
    return struct.unpack_from(">iqi", body)


def path_request(xid: int, op: int, path: str, tail: bytes = b"") -> bytes:
    encoded = path.encode()
    return frame(struct.pack(">iii", xid, op, len(encoded)) + encoded + tail)


# ------------------------------------------------------- what kazoo sees


def test_reads_and_writes(kazoo: KazooClient) -> None:
    assert kazoo.create("/rw", b"one") == "/rw"
    data, stat = kazoo.get("/rw")
    assert (data, stat.version, stat.dataLength, stat.numChildren) == (b"one", 0, 3, 0)
    assert stat.czxid == stat.mzxid > 0 and stat.ctime > 0
    assert kazoo.set("/rw", b"two", version=0).version == 1
    with pytest.raises(BadVersionError):
        kazoo.set("/rw", b"three", version=0)
    with pytest.raises(NodeExistsError):
        kazoo.create("/rw")
    path, stat = kazoo.create("/rw/c", b"x", include_data=True)  # create2: path and Stat
    assert path == "/rw/c" and stat.dataLength == 1
    assert kazoo.get_children("/rw") == ["c"]
    children, stat = kazoo.get_children("/rw", include_data=True)  # getChildren2
    assert children == ["c"] and stat.numChildren == 1 and stat.cversion == 1
    with pytest.raises(NotEmptyError):
        kazoo.delete("/rw")
    assert kazoo.exists("/rw/missing") is None  # NONODE, which kazoo reads as None
    with pytest.raises(NoNodeError):
        kazoo.get("/rw/missing")
    kazoo.delete("/rw", recursive=True)
    assert kazoo.exists("/rw") is None
    kazoo.sync("/")


def test_sequential_and_ephemeral_nodes(member: ServerProcess, kazoo: KazooClient, clients) -> None:
    kazoo.ensure_path("/seq")
    first = kazoo.create("/seq/n-", ephemeral=True, sequence=True)
    second = kazoo.create("/seq/n-", sequence=True)
    assert (first, second) == ("/seq/n-0000000000", "/seq/n-0000000001")
    assert kazoo.exists(first).ephemeralOwner == kazoo.client_id[0]
    kazoo.stop()  # closes the session: its ephemeral node goes
    assert clients(member.address).get_children("/seq") == ["n-0000000001"]


def test_one_tree_through_both_doors(member: ServerProcess, kazoo: KazooClient, clients) -> None:
    sdk = clients(member.address)
    sdk.create("/both", b"from grpc")
    assert kazoo.get("/both")[0] == b"from grpc"
    kazoo.set("/both", b"from zookeeper's protocol")
    assert sdk.get("/both")[0] == b"from zookeeper's protocol"


def test_watches(kazoo: KazooClient) -> None:
    seen: list[tuple[str, str]] = []
    fired = threading.Semaphore(0)

    def watch(event) -> None:
        seen.append((event.type, event.path))
        fired.release()

    kazoo.create("/w", b"")
    kazoo.get("/w", watch=watch)
    kazoo.get_children("/w", watch=watch)
    kazoo.exists("/w/new", watch=watch)
    kazoo.create("/w/new")  # the child watch and the exists watch
    kazoo.set("/w", b"changed")  # the data watch
    for _ in range(3):
        assert fired.acquire(timeout=10)
    assert sorted(seen) == sorted(
        [
            (EventType.CHILD, "/w"),
            (EventType.CREATED, "/w/new"),
            (EventType.CHANGED, "/w"),
        ]
    )
    kazoo.create("/w2")
    later = threading.Event()
    kazoo.get("/w2", watch=lambda event: later.set())
    kazoo.set("/w", b"again")  # one-shot: no second event
    kazoo.set("/w2", b"")  # whose event comes after any for /w
    assert later.wait(timeout=10)
    assert len(seen) == 3


def test_remove_watches(member: ServerProcess, kazoo: KazooClient) -> None:
    """A removed data watch fires no more; one not removed fires before the
    answer to the write that triggers it (ZooKeeper's order)."""
    kazoo.create("/rm", b"")
    sock = connected(member)
    set_data = struct.pack(">i", 0) + struct.pack(">i", -1)  # no data, any version
    sock.sendall(path_request(1, 4, "/rm", b"\1"))  # getData, watch
    assert reply_header(read_frame(sock))[::2] == (1, 0)
    sock.sendall(path_request(2, 18, "/rm", struct.pack(">i", 2)))  # removeWatches: data
    assert reply_header(read_frame(sock))[::2] == (2, 0)
    sock.sendall(path_request(3, 5, "/rm", set_data))
    assert reply_header(read_frame(sock))[::2] == (3, 0)  # the answer, no event before it
    sock.sendall(path_request(4, 4, "/rm", b"\1"))
    assert reply_header(read_frame(sock))[::2] == (4, 0)
    sock.sendall(path_request(5, 5, "/rm", set_data))
    event = read_frame(sock)
    assert reply_header(event)[::2] == (-1, 0)
    assert struct.unpack_from(">ii", event, 16) == (NODE_DATA_CHANGED, SYNC_CONNECTED)
    assert reply_header(read_frame(sock))[::2] == (5, 0)


def test_transactions(kazoo: KazooClient) -> None:
    kazoo.create("/t", b"")
    txn = kazoo.transaction()
    txn.create("/t/a", b"a")
    txn.set_data("/t", b"set", version=0)
    txn.check("/t", 1)
    txn.delete("/t/a")
    created, stat, checked, deleted = txn.commit()
    assert (created, stat.version, stat.numChildren, checked, deleted) == ("/t/a", 1, 1, True, True)
    failing = kazoo.transaction()
    failing.create("/t/b")
    failing.delete("/t/missing")
    failing.create("/t/c")
    results = failing.commit()
    assert [type(r) for r in results] == [RolledBackError, NoNodeError, RuntimeInconsistency]
    assert kazoo.get_children("/t") == []


def test_digest_auth_and_acls(member: ServerProcess) -> None:
    alice = KazooClient(hosts=member.zk_address, auth_data=[("digest", "alice:secret")])
    anon = KazooClient(hosts=member.zk_address)
    for client in (alice, anon):
        client.start(timeout=10)
    try:
        alice.create("/acl", b"mine", acl=[make_digest_acl("alice", "secret", all=True)])
        with pytest.raises(NoAuthError):
            anon.get("/acl")
        assert alice.get("/acl")[0] == b"mine"
        acls, _ = alice.get_acls("/acl")
        assert [(a.perms, a.id.scheme) for a in acls] == [(31, "digest")]
    finally:
        for client in (alice, anon):
            client.stop()
            client.close()


def test_a_lock_between_two_clients(member: ServerProcess) -> None:
    one, two = (KazooClient(hosts=member.zk_address) for _ in range(2))
    for client in (one, two):
        client.start(timeout=10)
    try:
        first = one.Lock("/lock", "one")
        second = two.Lock("/lock", "two")
        assert first.acquire(timeout=10)
        assert not second.acquire(blocking=False)
        got = threading.Event()
        waiter = threading.Thread(target=lambda: second.acquire(timeout=10) and got.set())
        waiter.start()
        first.release()
        waiter.join(timeout=15)
        assert got.is_set()
        assert second.contenders() == ["two"]
        second.release()
    finally:
        for client in (one, two):
            client.stop()
            client.close()


def test_zookeepers_own_java_client(member: ServerProcess) -> None:
    """ZooKeeper's Java client (Debian's, as zkCli.sh runs it), one command
    a session."""
    reason = zookeeper.unavailable()
    if reason:
        pytest.skip(f"Debian's ZooKeeper cannot run: {reason}")
    at = member.zk_address
    assert "Created /java" in zookeeper.cli(at, "create", "/java", "hello")
    shown = zookeeper.cli(at, "get", "-s", "/java")
    assert "hello" in shown and "dataVersion = 0" in shown and "numChildren = 0" in shown
    zookeeper.cli(at, "set", "/java", "again")
    assert "again" in zookeeper.cli(at, "get", "/java")
    # (zkCli exits without closing its session: the node stays until it expires)
    made = zookeeper.cli(at, "create", "-s", "-e", "/java-e", "")
    assert re.search(r"^Created /java-e\d{10}$", made, re.MULTILINE), made
    zookeeper.cli(at, "delete", "/java")
    assert "Node does not exist: /java" in zookeeper.cli(at, "stat", "/java")


C_CLIENT = Path("/usr/lib/zookeeper/bin/cli_mt")  # Debian's zookeeper-bin


def c_client(member: ServerProcess, command: str) -> str:
    done = subprocess.run(
        [str(C_CLIENT), "-h", member.zk_address, "-c", command],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.stdout + done.stderr


def test_zookeepers_own_c_client(member: ServerProcess) -> None:
    """ZooKeeper's C client (Debian's cli_mt), one command a session (its
    batch mode never ends after `exists`, so that one is left out)."""
    if not C_CLIENT.exists():
        pytest.skip(f"{C_CLIENT} is missing (apt-get install zookeeper-bin)")
    assert "[/from-c]: rc = 0" in c_client(member, "create /from-c")
    c_client(member, "set /from-c hello")
    shown = c_client(member, "get /from-c")
    assert "/from-c: rc = 0" in shown and " value_len = 5\nhello\n" in shown
    assert "version=1" in shown
    made = c_client(member, "create2 +e /from-c/e")
    assert "ephemeralOwner = 0\n" not in made  # an ephemeral node: its owner is the session
    assert "/from-c/none: rc = -101" in c_client(member, "delete /from-c/none")


CURATOR = ["curator-recipes", "curator-framework", "curator-client", "zookeeper", "guava"]


def test_curator(member: ServerProcess, tmp_path) -> None:
    """Apache Curator 5.4 (Debian's) through the door: tests/java/CuratorSteps.java."""
    jars = [Path(f"/usr/share/java/{name}.jar") for name in [*CURATOR, "slf4j-simple"]]
    missing = [str(jar) for jar in jars if not jar.exists()]
    if missing or not shutil.which("javac"):
        pytest.skip(f"needs javac and Debian's libcurator-recipes-java: {missing or 'no javac'}")
    classpath = ":".join(map(str, jars))
    source = Path(__file__).parent / "java" / "CuratorSteps.java"
    subprocess.run(
        ["javac", "-d", str(tmp_path), "-cp", classpath, str(source)], check=True, timeout=120
    )
    done = subprocess.run(
        ["java", "-cp", f"{tmp_path}:{classpath}", "CuratorSteps", member.zk_address],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "created v",
        "transaction w",
        "other acquires while held: false",
        "other acquires once released: true",
        "leader first",
        "leader after close second",
        "cache saw the change: true",
    ]


# ---------------------------------------------------- sessions and members


def test_an_expired_session_is_told_so(member: ServerProcess) -> None:
    """A connect naming a session the member does not know is answered with
    a timeout of 0, which ZooKeeper clients read as expiry."""
    sock = raw(member)
    sock.sendall(connect_request(session_id=0x7FFF_0000, password=bytes(16)))
    answer = read_frame(sock)
    _, timeout_ms, session_id = struct.unpack_from(">iiq", answer)
    assert (timeout_ms, session_id) == (0, 0)
    assert closed_by_member(sock)


def strings(*items: str) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(
        struct.pack(">i", len(item.encode())) + item.encode() for item in items
    )


def test_set_watches_when_a_session_comes_back(member: ServerProcess, kazoo: KazooClient) -> None:
    """As ZooKeeper's Java client reconnects: its auths, then SetWatches
    with the last zxid it saw; a watched node changed since fires at once.
    SetWatches after another request is refused (BADARGUMENTS)."""
    sock = raw(member)
    sock.sendall(connect_request(timeout_ms=30_000))
    answer = read_frame(sock)
    session_id, password = struct.unpack_from(">q", answer, 8)[0], answer[20:36]
    sock.sendall(path_request(1, 1, "/sw", struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", 0)))
    _, seen, _ = reply_header(read_frame(sock))
    sock.close()
    kazoo.set("/sw", b"changed while away")
    back = raw(member)
    back.sendall(connect_request(session_id, password))
    assert struct.unpack_from(">i", read_frame(back), 4)[0] > 0  # the same session, not expired
    auth = struct.pack(">ii", -4, 100) + struct.pack(">i", 0) + strings("digest")[4:]
    back.sendall(frame(auth + struct.pack(">i", 7) + b"u:pword"))
    set_watches = struct.pack(">iiq", -8, 101, seen) + strings("/sw") + strings() + strings()
    back.sendall(frame(set_watches))
    assert reply_header(read_frame(back))[::2] == (-4, 0)
    event = read_frame(back)
    assert reply_header(event)[::2] == (-1, 0)
    assert struct.unpack_from(">ii", event, 16) == (NODE_DATA_CHANGED, SYNC_CONNECTED)
    assert reply_header(read_frame(back))[::2] == (-8, 0)
    back.sendall(path_request(2, 3, "/sw", b"\0"))
    assert reply_header(read_frame(back))[::2] == (2, 0)
    back.sendall(frame(set_watches))
    assert reply_header(read_frame(back))[::2] == (-8, -8)


def test_a_silent_session_expires(member: ServerProcess) -> None:
    """A client that sends nothing (no pings) for its session timeout loses
    its session: its connection ends, and connecting again with it is told
    it expired; its ephemeral node is gone."""
    sock = raw(member)
    sock.sendall(connect_request(timeout_ms=2000))  # the member's minimum
    answer = read_frame(sock)
    _, timeout_ms, session_id = struct.unpack_from(">iiq", answer)
    password = answer[20:36]
    assert timeout_ms == 2000
    body = struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", 1)  # ephemeral
    sock.sendall(path_request(1, 1, "/silent", body))
    assert reply_header(read_frame(sock))[::2] == (1, 0)
    assert closed_by_member(sock)  # once expired
    again = raw(member)
    again.sendall(connect_request(session_id, password))
    assert struct.unpack_from(">iiq", read_frame(again))[1:] == (0, 0)
    checker = connected(member)
    checker.sendall(path_request(1, 3, "/silent", b"\0"))
    assert reply_header(read_frame(checker))[::2] == (1, -101)


def test_a_session_moves_to_another_member_when_its_own_dies(tmp_path) -> None:
    cluster = Cluster.create(tmp_path, 3, zk_ports=True).start()
    try:
        cluster.leader()
        first, *others = cluster.members.values()
        hosts = ",".join(m.zk_address for m in (first, *others))
        client = KazooClient(hosts=hosts, timeout=10, randomize_hosts=False)
        client.start(timeout=10)
        states: list[str] = []
        back = threading.Event()

        def listen(state: str) -> None:
            states.append(state)
            if state == KazooState.CONNECTED:
                back.set()

        client.add_listener(listen)
        client.create("/mine", b"before", ephemeral=True)
        session = client.client_id
        first.kill()
        assert back.wait(timeout=30)
        assert states == [KazooState.SUSPENDED, KazooState.CONNECTED]
        assert client.client_id == session
        client.set("/mine", b"after")
        assert client.get("/mine")[0] == b"after"
        client.stop()
        client.close()
    finally:
        cluster.stop()


def test_coord_cluster_serves_zookeepers_protocol(tmp_path) -> None:
    """coord-cluster --zk-base-port: its second line is the ZooKeeper connect
    string, and kazoo given it writes what coord_client reads."""
    base = free_ports_in_a_row(6)  # three for gRPC, then three for ZooKeeper's protocol
    proc = subprocess.Popen(
        [sys.executable, "-m", "coord.local_cluster", "--size", "3",
         "--data-dir", str(tmp_path / "data"), "--base-port", str(base),
         "--zk-base-port", str(base + 3)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        lines: list[str] = []
        for line in proc.stdout:
            if not line.startswith("coord-server"):
                lines.append(line.strip())
            if len(lines) == 2:
                break
        hosts, zk_line = lines
        assert zk_line.startswith("ZooKeeper clients: ")
        client = KazooClient(hosts=zk_line.removeprefix("ZooKeeper clients: "))
        client.start(timeout=30)
        client.create("/through-the-door", b"kazoo")
        client.stop()
        client.close()
        sdk = Client(hosts)
        sdk.start(timeout=30)
        assert sdk.get("/through-the-door")[0] == b"kazoo"
        sdk.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# ----------------------------------------------------- four-letter words


def four_letters(member: ServerProcess, word: str) -> str:
    """What the member answers `word` with, before it closes the connection."""
    sock = raw(member)
    sock.sendall(word.encode())
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer.decode()


def test_the_words_let_in_by_default(member: ServerProcess) -> None:
    assert four_letters(member, "ruok") == "imok"
    assert four_letters(member, "isro") == "rw"
    srvr = four_letters(member, "srvr")
    assert "Mode: standalone\n" in srvr and re.search(r"^Node count: \d+$", srvr, re.MULTILINE)
    for word in ("stat", "mntr", "conf", "envi", "cons", "wchs"):
        refused = f"{word} is not executed because it is not in the whitelist.\n"
        assert four_letters(member, word) == refused


def test_every_word_when_let_in(tmp_path) -> None:
    server = ServerProcess(
        data_dir=tmp_path / "data", extra_args=["--zk-4lw", "*"], zk_port=free_port()
    ).start()
    client = KazooClient(hosts=server.zk_address)
    try:
        client.start(timeout=10)
        client.create("/watched", b"")
        client.get("/watched", watch=lambda event: None)
        client.get_children("/watched", watch=lambda event: None)
        session = client.client_id[0]
        stat = four_letters(server, "stat")
        assert "Clients:\n /127.0.0.1:" in stat and "Outstanding: 0\n" in stat
        mntr = dict(line.split("\t") for line in four_letters(server, "mntr").splitlines())
        assert mntr["zk_server_state"] == "standalone"
        assert mntr["zk_num_alive_connections"] == "1"
        assert mntr["zk_znode_count"] == "2"  # / and /watched
        assert int(mntr["zk_packets_received"]) >= 4  # connect, create, get, exists
        assert f"sid=0x{session:x}" in four_letters(server, "cons")
        assert four_letters(server, "wchs") == "1 connections watching 1 paths\nTotal watches:2\n"
        assert f"clientPort={server.zk_port}\n" in four_letters(server, "conf")
        assert four_letters(server, "envi").startswith("Environment:\nzookeeper.version=coord ")
    finally:
        client.stop()
        client.close()
        server.stop()


def test_a_java_clients_watch_moves_with_its_session(tmp_path) -> None:
    """ZooKeeper's Java client (tests/java/WatchAcrossFailover.java) watches
    a node, its member is SIGKILLed and the node changed: the client moves to
    another member, re-arms its watch there (SetWatches) and gets the event."""
    reason = zookeeper.unavailable()
    if reason or not shutil.which("javac"):
        pytest.skip(f"needs Debian's ZooKeeper and javac: {reason or 'no javac'}")
    classes = tmp_path / "classes"
    source = Path(__file__).parent / "java" / "WatchAcrossFailover.java"
    subprocess.run(
        ["javac", "-d", str(classes), "-cp", zookeeper.CLASSPATH, str(source)],
        check=True, timeout=120,
    )  # fmt: skip
    cluster = Cluster.create(tmp_path / "cluster", 3, zk_ports=True).start()
    java = None
    try:
        cluster.leader()
        kazoo = KazooClient(hosts=cluster.zk_hosts)
        kazoo.start(timeout=30)
        kazoo.create("/moving", b"before")
        java = subprocess.Popen(
            ["java", "-cp", f"{classes}:{zookeeper.CLASSPATH}", "WatchAcrossFailover",
             cluster.zk_hosts, "/moving"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        on = java.stdout.readline().split()
        (dying,) = [m for m in cluster.members.values() if on == ["on", str(m.zk_port)]]
        dying.kill()
        kazoo.retry(kazoo.set, "/moving", b"after")
        assert java.stdout.readline().split() == ["event", "NodeDataChanged", "/moving"]
        assert java.wait(timeout=60) == 0
        kazoo.stop()
        kazoo.close()
    finally:
        if java is not None and java.poll() is None:
            java.kill()
        cluster.stop()


# ------------------------------------------------------ what kazoo never sends


def test_a_frame_over_the_limit_ends_the_connection(member: ServerProcess) -> None:
    sock = connected(member)
    sock.sendall(struct.pack(">i", MAX_REQUEST + 1))
    assert closed_by_member(sock)
    connected(member).close()  # the member serves on


@pytest.mark.parametrize(
    "first",
    [
        struct.pack(">i", -5),  # a negative length
        frame(b"\0\0"),  # too short for a ConnectRequest
        frame(struct.pack(">iqiq", 0, 0, 1000, 0) + struct.pack(">i", 1 << 30)),  # a lying length
        frame(struct.pack(">iqiq", 0, 0, 1000, 0) + struct.pack(">i", 0) + b"\0extra"),
        frame(struct.pack(">ii", 1, 4) + b"/x\0"),  # a request before any connect
    ],
    ids=["negative length", "short", "buffer past the end", "bytes after", "no connect"],
)
def test_what_is_not_a_connect_ends_the_connection(member: ServerProcess, first: bytes) -> None:
    sock = raw(member)
    sock.sendall(first)
    assert closed_by_member(sock)


def test_a_malformed_request_ends_the_connection_not_the_session(member: ServerProcess) -> None:
    sock = raw(member)
    sock.sendall(connect_request())
    answer = read_frame(sock)
    _, _, session_id = struct.unpack_from(">iiq", answer)
    password = answer[20:36]
    # getData whose path length runs past the frame's end
    sock.sendall(frame(struct.pack(">iii", 1, 4, 1000) + b"/x"))
    assert closed_by_member(sock)
    again = raw(member)
    again.sendall(connect_request(session_id, password))
    _, timeout_ms, same = struct.unpack_from(">iiq", read_frame(again))
    assert (timeout_ms > 0, same) == (True, session_id)


@pytest.mark.parametrize("op", [*map(int, Op), 0, 10, 16, 20, 21, 22, 103, 104, 107, 999, -3])
def test_random_records_for_every_op(member: ServerProcess, op: int) -> None:
    """Each op code with random bytes after its header (and a valid xid):
    answered or the connection closed, the member unharmed (a fixed seed
    per op, so that a failure replays)."""
    generator = random.Random(op)
    for _ in range(10):
        sock = connected(member)
        body = struct.pack(">ii", 1, op) + generator.randbytes(generator.randrange(0, 64))
        sock.sendall(frame(body))
        sock.close()
    assert admitted(member)
    assert "Traceback" not in "\n".join(member.output)


def test_an_op_not_served_is_answered_unimplemented(member: ServerProcess) -> None:
    sock = connected(member)
    sock.sendall(frame(struct.pack(">ii", 7, 104) + b"\0\0\0\x01/"))  # getAllChildrenNumber
    sock.sendall(path_request(8, 3, "/", b"\0"))  # exists: the connection goes on
    assert reply_header(read_frame(sock))[::2] == (7, -6)
    xid, _, err = reply_header(read_frame(sock))
    assert (xid, err) == (8, 0)


def test_a_client_gone_before_its_answers_and_events(member: ServerProcess) -> None:
    """The client resets its connection with a write in flight that fires
    its own watch: the event and the answer find the connection closed,
    and the member goes on applying (once, a write to the closed transport
    raised inside the apply)."""
    for n in range(5):
        path = f"/gone{n}"
        sock = connected(member)
        sock.sendall(
            path_request(1, 1, path, struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", 0))
        )
        assert reply_header(read_frame(sock))[::2] == (1, 0)
        sock.sendall(path_request(2, 4, path, b"\1"))  # getData, watch
        assert reply_header(read_frame(sock))[::2] == (2, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(path_request(3, 5, path, struct.pack(">ii", 0, -1)))  # setData
        sock.close()  # a reset, before the write's answer
    client = KazooClient(hosts=member.zk_address)
    client.start(timeout=10)
    try:
        assert [client.get(f"/gone{n}")[1].version for n in range(5)] == [1] * 5
        client.create("/after-the-resets")
    finally:
        client.stop()
        client.close()
    assert "Traceback" not in "\n".join(member.output)


def test_a_container_is_made_as_a_persistent_node(member: ServerProcess) -> None:
    """createContainer (Curator's lock and election parents): answered as
    create2, the node persistent (coord does not remove empty containers)."""
    sock = connected(member)
    body = struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", 4)
    sock.sendall(path_request(1, 19, "/container", body))
    answer = read_frame(sock)
    assert reply_header(answer)[::2] == (1, 0)
    assert answer[16:30] == struct.pack(">i", 10) + b"/container"
    (owner,) = struct.unpack_from(">q", answer, 30 + 8 * 4 + 4 * 3)  # the Stat's ephemeralOwner
    assert owner == 0


@pytest.mark.parametrize(("flags", "code"), [(5, -6), (6, -6), (7, -8), (-1, -8)], ids=str)
def test_a_refused_create_changes_nothing(member: ServerProcess, flags: int, code: int) -> None:
    """TTL nodes are not served; unknown flags are bad
    arguments (ZooKeeper's codes); nothing is created either way."""
    sock = connected(member)
    body = struct.pack(">i", 0) + OPEN_ACL + struct.pack(">i", flags)
    sock.sendall(path_request(1, 1, f"/refused{flags}", body))
    assert reply_header(read_frame(sock))[::2] == (1, code)
    sock.sendall(path_request(2, 3, f"/refused{flags}", b"\0"))
    assert reply_header(read_frame(sock))[::2] == (2, -101)


def test_an_empty_acl_is_invalid(member: ServerProcess) -> None:
    sock = connected(member)
    body = struct.pack(">i", 0) + struct.pack(">i", 0) + struct.pack(">i", 0)
    sock.sendall(path_request(1, 1, "/no-acl", body))
    assert reply_header(read_frame(sock))[::2] == (1, -114)


def test_connections_count_against_the_sessions_of_their_address(tmp_path, clients) -> None:
    """--max-sessions-per-ip counts ZooKeeper connections from the moment
    they are open, and gRPC sessions with them."""
    server = ServerProcess(
        data_dir=tmp_path / "data", extra_args=["--max-sessions-per-ip", "2"], zk_port=free_port()
    ).start()
    try:
        clients(server.address)  # a gRPC session
        idle = raw(server)  # a connection that says nothing yet
        sock = raw(server)
        sock.sendall(connect_request())
        assert closed_by_member(sock)  # refused, no session opened
        said = "127.0.0.1 has 2 sessions here"  # the log line may trail the close
        Cluster.wait_until(lambda: said in "\n".join(server.output))
        idle.close()
        Cluster.wait_until(lambda: admitted(server))
    finally:
        server.stop()


def admitted(member: ServerProcess) -> bool:
    """Whether a new connection gets a session."""
    sock = raw(member)
    sock.sendall(connect_request())
    return bool(read_frame(sock))


def test_a_client_that_does_not_read_is_cut_off(tmp_path) -> None:
    """Events wait for a client that reads nothing; past --max-unread-bytes
    the member ends its connection (its session lives on)."""
    server = ServerProcess(
        data_dir=tmp_path / "data",
        extra_args=["--max-unread-bytes", "65536", "--max-path-bytes", "2048"],
        zk_port=free_port(),
    ).start()
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", server.zk_port))
        sock.sendall(connect_request(timeout_ms=60_000))
        read_frame(sock)
        path = b"/"
        add_watch = struct.pack(">ii", 1, 106) + struct.pack(">i", len(path)) + path
        sock.sendall(frame(add_watch + struct.pack(">i", 1)))  # persistent, recursive
        assert reply_header(read_frame(sock))[::2] == (1, 0)
        writer = KazooClient(hosts=server.zk_address)
        writer.start(timeout=10)
        name = "/" + "n" * 2000  # each event 2 KB
        writer.create(name)
        # What the kernel may hold for the member's side of the connection,
        # twice over: past it, events wait in the member.
        most = 2 * int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        sent = 0
        while "did not read" not in "".join(server.output):
            assert sent * len(name) < most + (1 << 20), "the member never cut the client off"
            for result in [writer.set_async(name, b"") for _ in range(500)]:
                result.get(timeout=30)
            sent += 500
        writer.stop()
        writer.close()
        assert closed_by_member(sock)
    finally:
        server.stop()


# ------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs.make(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_member(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[ServerProcess]:
    """A member whose client port asks for mutual TLS: so does its ZooKeeper door."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("zk-door-tls") / "data",
        extra_args=[
            "--tls-cert", str(certs.server.cert), "--tls-key", str(certs.server.key),
            "--tls-ca", str(certs.ca),
        ],
        zk_port=free_port(),
    )  # fmt: skip
    server.start()
    yield server
    server.stop()


def tls_client(member: ServerProcess, certs: Certs, client: Pair | None) -> KazooClient:
    files = {"certfile": str(client.cert), "keyfile": str(client.key)} if client else {}
    return KazooClient(
        hosts=member.zk_address, use_ssl=True, verify_certs=True, ca=str(certs.ca), **files
    )


def test_mutual_tls_gives_the_x509_id(tls_member: ServerProcess, certs: Certs) -> None:
    alice = tls_client(tls_member, certs, certs.alice)
    alice.start(timeout=10)
    try:
        subject = "CN=alice,OU=Engineering,O=Example"
        alice.create("/alices", b"", acl=[make_acl("x509", subject, all=True)])
        assert alice.get("/alices")[0] == b""
        assert alice.get_acls("/alices")[0][0].id.id == subject
    finally:
        alice.stop()
        alice.close()


@pytest.mark.parametrize("who", ["plaintext", "no certificate", "another CA's certificate"])
def test_mutual_tls_lets_no_one_else_in(tls_member: ServerProcess, certs: Certs, who: str) -> None:
    """No session is opened for a client that does not prove itself."""
    if who == "plaintext":
        sock = raw(tls_member)
        sock.sendall(connect_request())
        assert closed_by_member(sock)
        return
    client = tls_client(tls_member, certs, None if who == "no certificate" else certs.stranger)
    with pytest.raises(KazooTimeoutError):
        client.start(timeout=3)
    client.stop()
    client.close()
    assert "Traceback" not in "\n".join(tls_member.output)
