"""The coord.v1.Peer service: what other members send us.

Every call is first authenticated as another member of this cluster
(member_trust.py); what it carries must then be in that member's own name.
"""

from __future__ import annotations

import grpc

from coord.member.member import Member
from coord.peers.door import LinkDoor
from coord.rpc.guard import Malformed, abort
from coord.rpc.member_trust import PEER, MemberTrust, refuse
from coord.rpc.peer_auth import in_own_name
from coord.wire import peer_pb2, peer_pb2_grpc


class PeerService(peer_pb2_grpc.PeerServicer):
    def __init__(self, member: Member, trust: MemberTrust, address: str, door: LinkDoor) -> None:
        self.member = member
        self.trust = trust
        self.address = address  # our client address, as Status reports it
        self.door = door

    @property
    def log(self):
        return self.member.log

    async def Link(self, request, context):  # noqa: N802 (gRPC's names)
        """Where our replication links come in (coord/peers/door.py)."""
        await self.trust.authorize_peer(context, PEER + "Link")
        return peer_pb2.LinkAddress(port=self.door.port)

    async def InstallSnapshot(self, request_iterator, context):  # noqa: N802
        """Our whole state replaced by a peer's: only the member we follow
        as leader (or whose ballot we promised) may."""
        peer = await self.trust.authorize_peer(context, PEER + "InstallSnapshot")
        await self._from_leader(peer, context)
        chunks = []
        async for chunk in request_iterator:
            if isinstance(chunk, Malformed):
                await abort(context, chunk.error)
            if not in_own_name(peer, [chunk.src]):
                await refuse(context, f"member {peer} sent a snapshot in another's name")
            if chunks and chunk.slot != chunks[0].slot:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "BAD_ARGUMENTS: snapshot chunks disagree"
                )
            chunks.append(chunk)
        if not chunks or not chunks[-1].last:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "BAD_ARGUMENTS: snapshot cut short"
            )
        await self._from_leader(peer, context)  # leadership may have moved meanwhile
        installed = await self.log.install_snapshot(chunks)
        return peer_pb2.SnapshotAck(installed=installed)

    async def _from_leader(self, peer: int, context) -> None:
        if not self.log.leads(peer):
            await refuse(context, f"member {peer} is not the leader this member follows")

    async def Status(self, request, context):  # noqa: N802
        await self.trust.authorize_peer(context, PEER + "Status")
        return self.member.status(self.address)
