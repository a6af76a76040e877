"""The coord.v1.Admin service: fault injection (only when the member was
started with --enable-fault-injection), a digest of the applied state,
which fault runs compare across members, and stage traces of writes
(trace.py). Only for callers authenticated as a member of this cluster
(member_trust.py)."""

from __future__ import annotations

import hashlib

from coord import trace
from coord.member.member import Member
from coord.records import encode_acl, encode_znode
from coord.rpc.guard import abort
from coord.rpc.member_trust import ADMIN, MemberTrust
from coord.wire import admin_pb2, admin_pb2_grpc
from coord_api.wire import client_pb2 as pb


def state_digest(member: Member) -> admin_pb2.Digest:
    """SHA-256 over every znode (path, Stat, sequence counter, data, ACL)
    and every session (id, timeout, last xid), in a fixed order."""
    tree = member.tree
    digest = hashlib.sha256()
    for path in sorted(tree.nodes):
        node = tree.nodes[path]
        acl = encode_acl(node.acl)
        digest.update(b"%s\0%d\0%s%s" % (path.encode(), len(acl), acl, encode_znode(node)))
    for session_id in sorted(tree.sessions):
        session = tree.sessions[session_id]
        digest.update(f"{session_id}:{session.timeout_ms}:{session.last_xid};".encode())
    return admin_pb2.Digest(
        zxid=tree.zxid,
        applied_slot=member.applied_slot,
        sha256=digest.hexdigest(),
        znodes=len(tree.nodes),
        sessions=len(tree.sessions),
    )


class AdminService(admin_pb2_grpc.AdminServicer):
    def __init__(self, member: Member, trust: MemberTrust, faults_enabled: bool) -> None:
        self.member = member
        self.trust = trust
        self.faults_enabled = faults_enabled

    async def SetFaults(self, request, context):  # noqa: N802 (gRPC's names)
        await self.trust.authorize_admin(context, ADMIN + "SetFaults")
        if not self.faults_enabled:
            await abort(
                context,
                pb.Error(
                    code=pb.UNIMPLEMENTED,
                    message="fault injection is off (start with --enable-fault-injection)",
                ),
            )
        if request.clock_rate < 0 or any(f.drop < 0 or f.drop > 1 for f in request.links):
            await abort(context, pb.Error(code=pb.BAD_ARGUMENTS, message="rates out of range"))
        self.member.log.set_faults(request)
        return admin_pb2.FaultsAck()

    async def StateDigest(self, request, context):  # noqa: N802
        await self.trust.authorize_admin(context, ADMIN + "StateDigest")
        return state_digest(self.member)

    async def Trace(self, request, context):  # noqa: N802
        await self.trust.authorize_admin(context, ADMIN + "Trace")
        if request.action == admin_pb2.TraceRequest.START:
            trace.start()
            marks = []
        else:
            marks = trace.marks() if request.action == admin_pb2.TraceRequest.PEEK else trace.stop()
        return admin_pb2.TraceMarks(marks=[admin_pb2.TraceMark(**m._asdict()) for m in marks])
