"""The member's stages put together in one process, over a real LevelDB
data dir and a real (if unreachable) peer: a write goes through the intake,
the log and the apply stage to its waiter, whose `on_applied` runs right
after its apply; the applied state and position are what a restart loads.
Without a quorum nothing is chosen: a write ends with connection loss at
its deadline, a read index is not had, and stopping ends the writes still
waiting. (Many members, over processes: test_cluster.py and the others.)"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import partial
from pathlib import Path

from coord.member.limits import Limits
from coord.member.member import Member
from coord.peers.transport import PeerTransport
from coord.rpc.member_trust import MemberTrust
from coord.storage import Storage
from coord_api.wire import client_pb2 as pb
from tests.servers import free_port
from tests.treekit import command, create, error_code


def run(test: Coroutine) -> None:
    asyncio.run(asyncio.wait_for(test, 60))


def member_of(data_dir: Path, members: list[int], request_timeout: float = 6.0) -> Member:
    """Member 1 of `members`; the others' doors are free ports nobody serves."""
    doors = {member: f"127.0.0.1:{free_port()}" for member in members}
    trust = MemberTrust(1, doors, insecure=True)
    return Member(
        partial(Storage, data_dir), partial(PeerTransport, trust), Limits(), 1, dict(doors),
        trust, request_timeout=request_timeout,
    )  # fmt: skip


def test_a_write_reaches_its_waiter_after_its_apply_and_a_restart_loads_it(tmp_path):
    async def test() -> None:
        member = member_of(tmp_path, [1])
        await member.start()
        assert await member.caught_up(0, 30), "a member of one did not rejoin"
        seen: list[int] = []
        future = member.submit(
            command(create("/a", b"x")), on_applied=lambda: seen.append(member.tree.zxid)
        )
        applied = await future
        assert applied.ok, applied.result
        assert seen == [member.tree.zxid], "on_applied did not run right after the apply"
        assert await member.sync(30) is None
        status = member.status("here")
        assert status.applied_slot == member.applied_slot > 0
        assert status.applied_zxid == member.tree.zxid
        assert status.commands_applied >= 1 and status.znodes == len(member.tree.nodes)
        slot = member.applied_slot
        await member.stop()
        member.storage.close()

        again = member_of(tmp_path, [1])
        try:
            assert again.tree.nodes["/a"].data == b"x"
            assert again.applied_slot == slot
        finally:
            again.storage.close()

    run(test())


def test_without_a_quorum_writes_end_with_connection_loss_and_stopping_ends_the_rest(tmp_path):
    async def test() -> None:
        member = member_of(tmp_path, [1, 2], request_timeout=0.5)
        await member.start()
        applied = await member.submit(command(create("/a")))
        assert error_code(applied) == pb.CONNECTION_LOSS
        assert applied.result.message == "no leader took the request in time"
        refused = await member.sync(0.2)
        assert refused is not None and refused.code == pb.CONNECTION_LOSS
        assert not await member.caught_up(0, 0.2)

        waiting = member.submit(command(create("/b")))
        await member.stop()
        ended = await waiting
        assert error_code(ended) == pb.CONNECTION_LOSS
        assert ended.result.message == "member stopping"
        assert "/a" not in member.tree.nodes and "/b" not in member.tree.nodes
        member.storage.close()

    run(test())
