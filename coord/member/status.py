"""What `coordctl status` shows of one member: its role and the leader it
follows (from the log), how far it has applied, what its tree holds, and
the counters of its streams, log and disk since it started. It only reads
the member; nothing here changes it."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord.member.member import Member


def member_status(member: Member, address: str) -> pb.MemberStatus:
    """The member's MemberStatus; `address` is its client address."""
    log, tree = member.log, member.tree
    log_status = log.status()
    return pb.MemberStatus(
        id=member.member_id,
        address=address,
        role=log_status["role"],
        leader=log_status["leader"],
        leader_ballot=log_status["leader_ballot"],
        committed_slot=log_status["committed_slot"],
        applied_slot=member.applied_slot,
        committed_zxid=tree.zxid,
        applied_zxid=tree.zxid,
        sessions=len(tree.sessions),
        znodes=len(tree.nodes),
        peer_frames_in=log.frames_in,
        peer_frames_out=log.frames_out,
        disk_syncs=member.storage.syncs,
        **asdict(member.counters),
    )
