"""The Transport: how a member's log reaches the other members.

One PeerLink per peer (link.py, a TCP connection of its own) carries the
Paxos messages (encoded by coord/paxos/wire.py) and the session-touch
relay; snapshots go as one gRPC InstallSnapshot call each (the server side
is coord/rpc/peer_service.py). Fault injection (tests only) distorts the links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import grpc

from coord.member.ports import PeerEvents
from coord.paxos import Message
from coord.paxos import wire as paxos_wire
from coord.peers.link import PeerLink
from coord.rpc.member_trust import PEER, MemberTrust
from coord.storage import Storage, StorageError
from coord.wire import admin_pb2, peer_pb2, peer_pb2_grpc

log = logging.getLogger(__name__)

SNAPSHOT_CHUNK_ITEMS = 2000


class PeerTransport:
    def __init__(self, trust: MemberTrust, storage: Storage) -> None:
        self.member_id = trust.member_id
        self._trust = trust
        self._storage = storage
        self._links: dict[int, PeerLink] = {}
        self._snapshots_out: set[int] = set()

    def start(self, events: PeerEvents) -> None:
        """Open a link to every other member; `events` hears of broken ones."""
        self._links = {
            peer: PeerLink(self._trust, peer, events)
            for peer in self._trust.doors
            if peer != self.member_id
        }
        for link in self._links.values():
            link.start()

    async def stop(self) -> None:
        for link in self._links.values():
            await link.stop()

    @property
    def frames_out(self) -> int:
        return sum(link.frames_out for link in self._links.values())

    def send(self, messages: Sequence[Message]) -> None:
        """Each member's messages go as one frame (in order)."""
        to: dict[int, list[peer_pb2.PeerMessage]] = {}
        for message in messages:
            if message.dst in self._links:
                to.setdefault(message.dst, []).append(paxos_wire.encode(message))
        for peer, encoded in to.items():
            self._links[peer].send(encoded)

    def touch(self, leader: int, session_ids: list[int]) -> bool:
        """Tell the leader these sessions are alive; False if its link is down."""
        link = self._links.get(leader)  # none to ourselves
        if link is None or not link.connected:
            return False
        message = peer_pb2.PeerMessage(src=self.member_id, dst=leader)
        message.touch_sessions.session_ids.extend(session_ids)
        link.send([message])
        return True

    def set_faults(self, faults: admin_pb2.Faults) -> None:
        """Per-link faults (tests only); a link not named is healthy."""
        for link in self._links.values():
            link.fault = admin_pb2.LinkFault()
        for fault in faults.links:
            if fault.peer in self._links:
                self._links[fault.peer].fault = fault

    def send_snapshot(self, peer: int, floor: int) -> None:
        if peer not in self._snapshots_out:
            self._snapshots_out.add(peer)
            asyncio.create_task(self._send_snapshot(peer, floor))

    async def _send_snapshot(self, peer: int, floor: int) -> None:
        try:
            slot, zxid, items = await asyncio.to_thread(self._storage.state_snapshot)
            if slot < floor:
                return  # our own state is not durable that far yet: the core asks again
            chunks = [
                items[i : i + SNAPSHOT_CHUNK_ITEMS]
                for i in range(0, max(len(items), 1), SNAPSHOT_CHUNK_ITEMS)
            ]
            frames = [
                peer_pb2.SnapshotChunk(
                    src=self.member_id,
                    slot=slot,
                    zxid=zxid,
                    keys=[k for k, _ in chunk],
                    values=[v for _, v in chunk],
                    last=i == len(chunks) - 1,
                )  # fmt: skip
                for i, chunk in enumerate(chunks)
            ]
            metadata = self._trust.metadata(PEER + "InstallSnapshot", peer)
            async with self._trust.channel(peer) as channel:
                stub = peer_pb2_grpc.PeerStub(channel)
                await stub.InstallSnapshot(iter(frames), timeout=60, metadata=metadata)
            log.info("sent member %d a snapshot at slot %d (%d records)", peer, slot, len(items))
        except grpc.aio.AioRpcError as err:
            log.warning("snapshot to member %d failed: %s", peer, err.details())
        except StorageError as err:
            log.warning("no snapshot for member %d: %s", peer, err)
        finally:
            self._snapshots_out.discard(peer)
