"""The coord.v1.Peer service: what other members send us."""

from __future__ import annotations

import contextlib

import grpc

from coord.replica import Replica
from coord.rpc.guard import Malformed, abort, until_stopped
from coord.wire import peer_pb2, peer_pb2_grpc


class PeerService(peer_pb2_grpc.PeerServicer):
    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    @property
    def log(self):
        return self.replica.log

    async def Deliver(self, request_iterator, context):  # noqa: N802 (gRPC's names)
        """A peer's messages to us. When its stream ends, the peer is gone (a
        killed process's connection closes at once): a follower that loses
        its leader this way runs for leader without waiting out a timeout."""
        src = 0

        def ended(_context) -> None:
            if src and not self.replica.stopping.is_set():
                self.log.peer_lost(src)

        # gRPC cancels this handler when the peer's connection drops, so the
        # end is caught by callback, not by code after the loop.
        context.add_done_callback(ended)

        async def receive() -> None:
            nonlocal src
            async for frame in request_iterator:
                if isinstance(frame, Malformed):
                    await abort(context, frame.error)
                src = frame.src
                self.log.receive(frame)

        with contextlib.suppress(grpc.aio.AioRpcError):
            await until_stopped(receive(), self.replica.stopping)
        return peer_pb2.DeliverAck()

    async def InstallSnapshot(self, request_iterator, context):  # noqa: N802
        chunks = []
        async for chunk in request_iterator:
            if isinstance(chunk, Malformed):
                await abort(context, chunk.error)
            if chunks and (chunk.slot != chunks[0].slot or chunk.src != chunks[0].src):
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "BAD_ARGUMENTS: snapshot chunks disagree"
                )
            chunks.append(chunk)
        if not chunks or not chunks[-1].last:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "BAD_ARGUMENTS: snapshot cut short"
            )
        installed = await self.log.install_snapshot(chunks)
        return peer_pb2.SnapshotAck(installed=installed)
