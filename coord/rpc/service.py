"""The coord.v1 gRPC service: the session stream and the unary RPCs.

Refusals are gRPC statuses with a machine-readable reason (see guard.py).
A unary call's ids are its connection's and its ``coord-auth`` metadata's
(callers.py); a write carries them in its log command.
"""

from __future__ import annotations

import asyncio
import os

import grpc

from coord.acl import Ids
from coord.member.member import Member
from coord.rpc import callers
from coord.rpc.callers import client_address
from coord.rpc.guard import abort, unless_cut, until_stopped
from coord.rpc.member_trust import PEER
from coord.rpc.session_stream import SessionStream
from coord.session import ops
from coord.session.admission import Admission, Refused
from coord.session.credentials import AuthFailed, to_wire
from coord.tree import TreeError
from coord.wire import log_pb2, peer_pb2, peer_pb2_grpc
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc

SYNC_TIMEOUT_S = 10.0


class _CallWatcher:
    """The watcher of one Watch call: events go to that call's queue. A
    caller that lets more than `limit` events wait is cut off (`cut`)."""

    def __init__(self, ids: Ids, limit: int) -> None:
        self.queue: asyncio.Queue[pb.WatchEvent] = asyncio.Queue(limit)
        self.ids = ids
        self.cut = asyncio.Event()

    def deliver(self, event: pb.WatchEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.cut.set()

    def unread(self) -> pb.Error:
        return pb.Error(
            code=pb.LIMIT_EXCEEDED,
            message=f"the watcher did not read: {self.queue.maxsize} events waited for it"
            " (--max-outstanding-per-session); set the watch again",
        )


class CoordService(client_pb2_grpc.CoordServicer):
    def __init__(self, member: Member, address: str, super_digest: str = "") -> None:
        self.member = member
        self.address = address
        self.super_digest = super_digest  # the super user's digest id, if any
        self.admission = Admission(member)
        self.session_port = 0  # where framed/door.py takes sessions, once bound (0: nowhere)

    async def Session(self, request_iterator, context):  # noqa: N802 (gRPC's names)
        session = SessionStream(self.member, context, self.admission, self.super_digest)
        await until_stopped(session.run(), self.member.stopping, context)

    async def SessionPort(self, request, context):  # noqa: N802
        """Where this member takes sessions without gRPC (coord/framed/door.py)."""
        return pb.SessionPortResponse(port=self.session_port)

    # ---------------------------------------------------------- sessions

    def _session(self, ref: pb.SessionRef) -> int:
        """The id of a live session named by a unary request, or 0 for none."""
        if not ref.session_id:
            return 0
        session = self.member.tree.sessions.get(ref.session_id)
        if session is None or session.password != ref.password:
            raise TreeError(pb.SESSION_EXPIRED, f"session 0x{ref.session_id:x} has expired")
        self.member.touch(ref.session_id)
        return ref.session_id

    async def OpenSession(self, request, context):  # noqa: N802
        if request.timeout_ms < 0:
            await abort(context, pb.Error(code=pb.BAD_ARGUMENTS, message="negative timeout"))
        address = client_address(context)
        try:
            self.admission.check(address)
        except Refused as refused:
            await abort(context, refused.error)
        timeout_ms = self.member.limits.negotiate(request.timeout_ms)
        command = log_pb2.Command(
            open_session=log_pb2.OpenSession(timeout_ms=timeout_ms, password=os.urandom(16))
        )
        opened = await self._write(command, context)
        self.admission.opened(opened.session_id, address)
        return opened

    async def CloseSession(self, request, context):  # noqa: N802
        session_id = await self._named_session(request, context)
        command = log_pb2.Command(session_id=session_id, close_session=log_pb2.CloseSession())
        return await self._write(command, context)

    async def KeepAlive(self, request, context):  # noqa: N802
        session_id = await self._named_session(request, context)
        return pb.KeepAliveResponse(timeout_ms=self.member.tree.sessions[session_id].timeout_ms)

    async def _optional_session(self, ref: pb.SessionRef, context) -> int:
        try:
            return self._session(ref)
        except TreeError as err:
            await abort(context, err.to_wire())

    async def _named_session(self, ref: pb.SessionRef, context) -> int:
        session_id = await self._optional_session(ref, context)
        if not session_id:
            await abort(context, pb.Error(code=pb.BAD_ARGUMENTS, message="no session named"))
        return session_id

    # ------------------------------------------------------------ writes

    async def _write(self, command: log_pb2.Command, context):
        applied = await self.member.submit(command)
        if not applied.ok:
            await abort(context, applied.result)
        return applied.result

    async def _ids(self, context) -> Ids:
        try:
            return callers.unary_ids(context, self.super_digest)
        except AuthFailed as err:
            await abort(context, pb.Error(code=pb.AUTH_FAILED, message=str(err)))

    async def _write_op(self, kind: str, request, context):
        ids = await self._ids(context)
        refusal = ops.precheck(kind, request, self.member.limits)
        if refusal is not None:
            await abort(context, refusal)
        session_id = await self._optional_session(request.session, context)
        command = ops.command(kind, request, session_id, auth=to_wire(ids))
        return await self._write(command, context)

    async def Create(self, request, context):  # noqa: N802
        return await self._write_op("create", request, context)

    async def Delete(self, request, context):  # noqa: N802
        return await self._write_op("delete", request, context)

    async def SetData(self, request, context):  # noqa: N802
        return await self._write_op("set_data", request, context)

    async def Multi(self, request, context):  # noqa: N802
        """A transaction whose op failed is an answer, not an error: its
        per-op results say which op failed, as on the stream. One that could
        not run at all (its session expired, its outcome is unknown) is an
        error."""
        return await self._write_op("multi", request, context)

    async def SetACL(self, request, context):  # noqa: N802
        return await self._write_op("set_acl", request, context)

    async def SetQuota(self, request, context):  # noqa: N802
        return await self._write_op("set_quota", request, context)

    async def DeleteQuota(self, request, context):  # noqa: N802
        return await self._write_op("delete_quota", request, context)

    # ------------------------------------------------------------- reads

    async def _read(self, kind: str, request, context):
        ids = await self._ids(context)
        if getattr(request, "watch", False):
            await abort(
                context,
                pb.Error(
                    code=pb.BAD_ARGUMENTS,
                    message="one-shot watches need the Session stream; use Watch or Session",
                ),
            )
        try:
            if hasattr(request, "session"):
                self._session(request.session)
            if not await self.member.caught_up(getattr(request, "min_zxid", 0), 5.0):
                raise TreeError(pb.NOT_READY, "member is behind the zxid asked for")
            return ops.read(self.member.tree, self.member.watches, kind, request, None, ids)
        except TreeError as err:
            await abort(context, err.to_wire())

    async def GetData(self, request, context):  # noqa: N802
        return await self._read("get_data", request, context)

    async def Exists(self, request, context):  # noqa: N802
        return await self._read("exists", request, context)

    async def GetChildren(self, request, context):  # noqa: N802
        return await self._read("get_children", request, context)

    async def GetACL(self, request, context):  # noqa: N802
        return await self._read("get_acl", request, context)

    async def GetQuota(self, request, context):  # noqa: N802
        return await self._read("get_quota", request, context)

    async def Sync(self, request, context):  # noqa: N802
        error = await self.member.sync(SYNC_TIMEOUT_S)
        if error is not None:
            await abort(context, error)
        return await self._read("sync", request, context)

    async def Watch(self, request, context):  # noqa: N802
        try:
            with self.admission.watch_call(client_address(context)):
                await self._watch(request, context)
        except Refused as refused:
            await abort(context, refused.error)

    async def _watch(self, request, context) -> None:
        ids = await self._ids(context)
        await self._optional_session(request.session, context)
        watcher = _CallWatcher(ids, self.member.limits.max_outstanding_per_session)
        try:
            ops.read(self.member.tree, self.member.watches, "add_watch", request, watcher, ids)
        except TreeError as err:
            await abort(context, err.to_wire())

        async def stream_events() -> None:
            while True:
                await context.write(await watcher.queue.get())

        def unread() -> pb.Error:
            self.member.counters.unread_streams_cut += 1
            return watcher.unread()

        try:
            await until_stopped(
                unless_cut(stream_events(), watcher.cut, context, unread),
                self.member.stopping,
                context,
            )
        finally:
            self.member.watches.remove_watcher(watcher)

    async def Status(self, request, context):  # noqa: N802
        """This member, and unless asked for itself only, every other member
        as it answers for itself (or as unreachable)."""
        own = self.member.status(self.address)
        if request.local_only:
            return pb.StatusResponse(members=[own])
        others = [
            self._peer_status(member_id, address)
            for member_id, address in sorted(self.member.members.items())
            if member_id != self.member.member_id
        ]
        members = [own, *await asyncio.gather(*others)]
        return pb.StatusResponse(members=sorted(members, key=lambda m: m.id))

    async def _peer_status(self, member_id: int, address: str) -> pb.MemberStatus:
        """Asked of the member at its peer door, as a member asks."""
        trust = self.member.trust
        try:
            async with trust.channel(member_id) as channel:
                return await peer_pb2_grpc.PeerStub(channel).Status(
                    peer_pb2.MemberStatusRequest(),
                    timeout=1.0,
                    metadata=trust.metadata(PEER + "Status", member_id),
                )
        except grpc.aio.AioRpcError:
            return pb.MemberStatus(id=member_id, address=address, role="unreachable")
