"""ACLs and authentication through the asyncio client against a real
coord-server: the threaded client's cases (test_acl_client.py) as coroutines,
and the Lock and Config recipes under a protected path."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from coord_client.aio import Client, KazooState
from coord_client.exceptions import AuthFailedError, BadVersionError, NoAuthError
from coord_client.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE
from tests.test_acl_client import BOB, BOB_ALL
from tests.test_aio_client import WAIT, Recorder, next_state, run


async def bob_and_anyone(stack: AsyncExitStack, address: str, **bob: object) -> list[Client]:
    """A client proving bob's credential (with `bob`'s options) and one proving none."""
    return [
        await stack.enter_async_context(Client(address, auth_data=[BOB], **bob)),
        await stack.enter_async_context(Client(address)),
    ]


def test_acls_and_auth(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            bob, anyone = await bob_and_anyone(stack, server.address)
            assert await bob.create("/b", b"v", acl=BOB_ALL) == "/b"
            acls, stat = await bob.get_acls("/b")
            assert acls == BOB_ALL and stat.aversion == 0
            with pytest.raises(NoAuthError):
                await anyone.get("/b")
            assert await anyone.add_auth(*BOB) is True
            assert (await anyone.get("/b"))[0] == b"v"
            stat = await bob.set_acls("/b", [*BOB_ALL, *READ_ACL_UNSAFE], version=0)
            assert stat.aversion == 1
            with pytest.raises(BadVersionError):
                await bob.set_acls("/b", OPEN_ACL_UNSAFE, version=0)

    run(body)


def test_default_acl_and_transactions(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            bob, anyone = await bob_and_anyone(stack, server.address, default_acl=BOB_ALL)
            await bob.create("/d/e", makepath=True)
            await bob.ensure_path("/f/g")
            async with bob.transaction() as t:
                t.create("/t1")
                t.create("/t2", acl=READ_ACL_UNSAFE)
            for path in ("/d", "/d/e", "/f/g", "/t1"):
                assert (await bob.get_acls(path))[0] == BOB_ALL, path
            assert (await bob.get_acls("/t2"))[0] == READ_ACL_UNSAFE
            with pytest.raises(NoAuthError):
                await anyone.get("/d/e")

    run(body)


def test_auth_failed(server):
    async def body() -> None:
        zk = Client(server.address, auth_data=[("nosuchscheme", "x")])
        with pytest.raises(AuthFailedError):
            await zk.start(timeout=WAIT)
        assert zk.state is KazooState.LOST
        async with Client(server.address) as zk:
            states = Recorder()
            zk.add_listener(states)
            with pytest.raises(AuthFailedError):
                await zk.add_auth("nosuchscheme", "x")
            assert await next_state(states, KazooState.LOST) == [KazooState.LOST]
            with pytest.raises(AuthFailedError):
                await zk.get("/")

    run(body)


def test_credentials_are_proven_again_on_the_next_member(server):
    async def body() -> None:
        async with Client(server.address, auth_data=[BOB]) as bob:
            await bob.create("/b", b"v", acl=BOB_ALL)
        async with Client(server.address, timeout=10.0) as zk:
            await zk.add_auth(*BOB)
            states = Recorder()
            zk.add_listener(states)
            server.stop()
            assert await states.next() is KazooState.SUSPENDED
            server.start()
            assert await states.next() is KazooState.CONNECTED
            assert (await zk.get("/b"))[0] == b"v"

    run(body)


def test_lock_and_config_under_a_protected_path(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            bob, anyone = await bob_and_anyone(stack, server.address, default_acl=BOB_ALL)
            await bob.create("/p", acl=BOB_ALL)
            async with bob.Lock("/p/lock", "bob"):
                (node,) = await bob.get_children("/p/lock")
                assert (await bob.get_acls(f"/p/lock/{node}"))[0] == BOB_ALL
            with pytest.raises(NoAuthError):
                await anyone.Lock("/p/lock", "eve").acquire(timeout=WAIT)
            config = await bob.Config("/p/config")
            assert await config.update({"a": b"1"}) == 1
            assert config["a"] == b"1"
            await config.close()
            with pytest.raises(NoAuthError):
                await anyone.Config("/p/config")

    run(body)
