"""A write is acknowledged only once it is on disk: SIGKILL a real server in
the middle of a write load, restart it on the same data dir, and find every
acknowledged create there."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc

WRITERS = 32
KILL_AFTER_ACKS = 600


async def _load_until_killed(server, acked: list[str]) -> None:
    """Many creates in flight; SIGKILL the server once enough are acknowledged."""
    killed = asyncio.Event()

    async def writer(stub, n: int) -> None:
        i = 0
        while True:
            path = f"/load/w{n}-{i}"
            try:
                await stub.Create(pb.CreateRequest(path=path, data=b"x" * 100))
            except grpc.aio.AioRpcError:
                assert killed.is_set(), "a create failed before the server was killed"
                return
            acked.append(path)
            i += 1
            if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                killed.set()
                server.kill()

    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        await stub.Create(pb.CreateRequest(path="/load"))
        await asyncio.gather(*(writer(stub, n) for n in range(WRITERS)))


def _children(address: str, path: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        return set(stub.GetChildren(pb.GetChildrenRequest(path=path)).children)


@pytest.mark.parametrize("round_", range(2))
def test_sigkill_mid_load_loses_no_acknowledged_create(server, round_):
    acked: list[str] = []
    asyncio.run(_load_until_killed(server, acked))
    assert len(acked) >= KILL_AFTER_ACKS
    server.start()  # same data dir, no repair step
    present = _children(server.address, "/load")
    missing = [path for path in acked if path.rpartition("/")[2] not in present]
    assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {missing[:3]}"


def test_restart_replays_nothing_twice(server):
    """Sequential names come from persisted counters: after a restart the
    next name continues the series, so no change was lost or applied twice."""
    with grpc.insecure_channel(server.address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        names = [
            stub.Create(pb.CreateRequest(path="/seq-", sequential=True)).path for _ in range(5)
        ]
        stub.SetData(pb.SetDataRequest(path=names[0], data=b"v1"))
    server.kill()
    server.start()
    with grpc.insecure_channel(server.address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        after = stub.Create(pb.CreateRequest(path="/seq-", sequential=True)).path
        stat = stub.Exists(pb.ExistsRequest(path=names[0])).stat
    assert names == [f"/seq-{i:010d}" for i in range(5)]
    assert after == "/seq-0000000005"
    assert stat.version == 1
