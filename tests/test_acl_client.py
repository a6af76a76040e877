"""ACLs and authentication through the threaded SDK against a real
coord-server: create with an ACL, get_acls/set_acls, NoAuthError, add_auth
and auth_data, AuthFailedError, default_acl, transactions, credentials proven
again after a reconnect, and recipes under a protected path."""

from __future__ import annotations

import signal

import pytest

from coord_client import Client, KazooState
from coord_client.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
    NodeExistsError,
)
from coord_client.security import (
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    make_acl,
    make_digest_acl,
)
from tests.test_sdk_client import Recorder, wait_for_state

WAIT = 10.0
BOB = ("digest", "bob:pw")
BOB_ALL = [make_digest_acl("bob", "pw", all=True)]


def test_a_node_created_with_an_acl_is_closed_to_others(connect):
    bob, anyone = connect(auth_data=[BOB]), connect()
    assert bob.create("/b", b"secret", acl=BOB_ALL) == "/b"
    acls, stat = bob.get_acls("/b")
    assert acls == BOB_ALL and stat.aversion == 0 and stat.dataLength == 6
    for refused in (
        lambda: anyone.get("/b"),
        lambda: anyone.exists("/b"),
        lambda: anyone.set("/b", b"x"),
        lambda: anyone.get_children("/b"),
        lambda: anyone.create("/b/c"),
        lambda: anyone.set_acls("/b", OPEN_ACL_UNSAFE),
    ):
        with pytest.raises(NoAuthError):
            refused()
    with pytest.raises(NoAuthError):
        anyone.get_acls("/b")  # needs READ or ADMIN
    assert bob.get_acls("/b") == (acls, stat)  # the refusals changed nothing
    assert bob.get("/b")[0] == b"secret"


def test_add_auth_opens_what_the_id_is_granted(connect):
    connect(auth_data=[BOB]).create("/b", b"v", acl=BOB_ALL)
    zk = connect()
    with pytest.raises(NoAuthError):
        zk.get("/b")
    assert zk.add_auth("digest", "bob:wrong") is True  # an id no ACL grants, not a failure
    with pytest.raises(NoAuthError):
        zk.get("/b")
    assert zk.add_auth(*BOB) is True
    assert zk.get("/b")[0] == b"v"
    assert BOB in zk.auth_data


def test_set_acls_checks_the_aversion(connect):
    zk = connect(auth_data=[BOB])
    zk.create("/n", acl=BOB_ALL)
    read_too = [*BOB_ALL, *READ_ACL_UNSAFE]
    stat = zk.set_acls("/n", read_too, version=0)
    assert stat.aversion == 1 and stat.version == 0
    with pytest.raises(BadVersionError):
        zk.set_acls("/n", BOB_ALL, version=0)
    acls, stat = zk.get_acls("/n")
    assert acls == read_too and stat.aversion == 1
    assert zk.exists("/n").aversion == 1
    assert connect().get("/n")[1].aversion == 1  # world may read now
    with pytest.raises(InvalidACLError):
        zk.set_acls("/n", [])
    with pytest.raises(InvalidACLError):
        zk.set_acls("/n", [make_acl("nosuchscheme", "x", all=True)])
    assert zk.get_acls("/n")[1].aversion == 1  # a refusal changes nothing


def test_creator_all_needs_an_authenticated_id(connect):
    with pytest.raises(InvalidACLError):
        connect().create("/c", acl=CREATOR_ALL_ACL)
    zk = connect(auth_data=[BOB])
    zk.create("/c", acl=CREATOR_ALL_ACL)
    assert zk.get_acls("/c")[0] == BOB_ALL  # auth: became the creator's digest id


def test_an_unknown_scheme_fails_start(connect, server):
    zk = Client(server.address, auth_data=[("nosuchscheme", "x")])
    with pytest.raises(AuthFailedError):
        zk.start(timeout=WAIT)
    assert zk.state is KazooState.LOST and zk.client_id is None


def test_a_refused_add_auth_loses_the_session(connect):
    zk = connect()
    states = Recorder()
    zk.add_listener(states)
    with pytest.raises(AuthFailedError):
        zk.add_auth("nosuchscheme", "x")
    assert wait_for_state(states, KazooState.LOST) == [KazooState.LOST]
    with pytest.raises(AuthFailedError):
        zk.get("/")


def test_default_acl_applies_to_creates_without_one(connect):
    zk = connect(auth_data=[BOB], default_acl=BOB_ALL)
    zk.create("/d/e", b"v", makepath=True)
    zk.ensure_path("/f/g")
    zk.create("/open", acl=OPEN_ACL_UNSAFE)
    for path in ("/d", "/d/e", "/f", "/f/g"):
        assert zk.get_acls(path)[0] == BOB_ALL, path
    assert zk.get_acls("/open")[0] == OPEN_ACL_UNSAFE
    with pytest.raises(NoAuthError):
        connect().get("/d/e")


def test_a_transaction_creates_with_acls(connect):
    zk = connect(auth_data=[BOB], default_acl=BOB_ALL)
    t = zk.transaction()
    t.create("/t1")
    t.create("/t2", acl=READ_ACL_UNSAFE)
    assert t.commit() == ["/t1", "/t2"]
    assert zk.get_acls("/t1")[0] == BOB_ALL and zk.get_acls("/t2")[0] == READ_ACL_UNSAFE
    anyone = connect()
    t = anyone.transaction()
    t.create("/t2/x")  # no CREATE on /t2
    results = t.commit()
    assert isinstance(results[0], NoAuthError)


def test_credentials_are_proven_again_on_the_next_member(connect, server):
    bob = connect(auth_data=[BOB])
    bob.create("/b", b"v", acl=BOB_ALL)
    zk = connect(timeout=10.0)
    zk.add_auth(*BOB)
    changes = Recorder()
    zk.get("/b", watch=changes)
    states = Recorder()
    zk.add_listener(states)
    server.stop()
    assert states.next() is KazooState.SUSPENDED
    server.start()
    assert states.next() is KazooState.CONNECTED
    assert zk.get("/b")[0] == b"v"  # NoAuthError had the member not been told again
    connect(auth_data=[BOB]).set("/b", b"w")
    assert changes.next().path == "/b"  # the watch was re-armed with bob's id


# ------------------------------------------------------------------ recipes


@pytest.fixture
def protected(connect) -> str:
    """/p, which only bob may use."""
    connect(auth_data=[BOB]).create("/p", acl=BOB_ALL)
    return "/p"


def test_a_lock_under_a_protected_path(connect, protected):
    bob = connect(auth_data=[BOB], default_acl=BOB_ALL)
    lock = bob.Lock(f"{protected}/lock", "bob")
    with lock:
        (node,) = bob.get_children(f"{protected}/lock")
        assert bob.get_acls(f"{protected}/lock/{node}")[0] == BOB_ALL
    assert lock.fencing_token is None
    with pytest.raises(NoAuthError):
        connect().Lock(f"{protected}/lock", "eve").acquire(timeout=WAIT)


def test_a_config_under_a_protected_path(connect, protected):
    bob = connect(auth_data=[BOB], default_acl=BOB_ALL)
    config = bob.Config(f"{protected}/config")
    assert config.update({"a": b"1"}) == 1
    assert config["a"] == b"1"
    config.close()
    reader = connect(auth_data=[BOB]).Config(f"{protected}/config")
    assert dict(reader) == {"a": b"1"}
    reader.close()
    with pytest.raises(NoAuthError):
        connect().Config(f"{protected}/config")
    with pytest.raises(NodeExistsError):
        bob.create(f"{protected}/config")


def test_a_change_missed_while_moving_is_told_under_the_credentials(cluster_factory):
    """The credentials ride with the connect: the new member re-arms the watch
    and replays the change it missed only to a session that may READ /b."""
    cluster = cluster_factory(3)
    leader = cluster.leader()
    follower_id, other_id = (i for i in cluster.members if i != leader)
    follower, other = cluster.members[follower_id], cluster.members[other_id]
    bob = Client(other.address, auth_data=[BOB])
    zk = Client(f"{follower.address},{other.address}", timeout=10.0, randomize_hosts=False)
    try:
        bob.start(timeout=WAIT)
        bob.create("/b", b"v", acl=BOB_ALL)
        zk.start(timeout=WAIT)
        zk.add_auth(*BOB)
        changes = Recorder()
        zk.get("/b", watch=changes)
        follower.signal(signal.SIGSTOP)  # zk hears nothing more from its member
        bob.set("/b", b"w")
        follower.kill()
        assert changes.next().path == "/b"  # replayed by `other` as zk reconnects
        assert zk.member_id == other_id and zk.get("/b")[0] == b"w"
    finally:
        zk.stop()
        bob.stop()
