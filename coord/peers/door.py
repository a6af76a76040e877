"""Where the other members' links come in (link.py is the other end).

A link is heard only once its LinkHello proves a member of this cluster,
as a Peer call must (member_trust.py); what it then carries must be in
that member's own name. A refusal is answered with its reason and the
connection closed; anything that is not a frame of ours, or a frame over
the limit, closes it, as does silence (or a TLS handshake) past the hello
timeout. At most MAX_UNPROVEN connections wait for their proof at once, and
a member has one link at a time. Nothing is handed to the log before the
proof.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from coord.frames import FrameError, frame, read_frame
from coord.listener import Listener
from coord.peers.link import MAX_FRAME_BYTES, MAX_HELLO_BYTES
from coord.rpc.member_trust import MemberTrust
from coord.rpc.peer_auth import Refused, in_own_name
from coord.wire import peer_pb2

if TYPE_CHECKING:
    from coord.member.member import Member

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0  # a connection that proves nothing by then is closed
MAX_UNPROVEN = 64  # connections proving nothing yet; more are closed at once


class LinkDoor(Listener):
    def __init__(self, member: Member, trust: MemberTrust) -> None:
        super().__init__(trust.tls.link_server if trust.tls else None, HELLO_TIMEOUT_S)
        self.member = member
        self.trust = trust
        self._unproven = 0
        self._proven: dict[int, asyncio.Task] = {}  # a member's one link to us

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = 0
        try:
            if self._unproven >= MAX_UNPROVEN:
                return
            self._unproven += 1
            try:
                peer = await asyncio.wait_for(self._admit(reader, writer), HELLO_TIMEOUT_S)
            finally:
                self._unproven -= 1
            if peer:
                self._replace(peer, task)
                await self._receive(peer, reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, FrameError) as err:
            log.debug("link from %s ended: %r", writer.get_extra_info("peername"), err)
        finally:
            if peer and self._proven.get(peer) is task:
                del self._proven[peer]
                if not self.member.stopping.is_set():
                    self.member.log.peer_lost(peer)

    def _replace(self, peer: int, task: asyncio.Task) -> None:
        """A member has one link to us: a new one ends the one before
        (whose end then says nothing of the member)."""
        old = self._proven.get(peer)
        self._proven[peer] = task
        if old is not None:
            old.cancel()

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        """The member that opened this link, welcomed; 0 if refused (told why)."""
        hello = await read_frame(reader, peer_pb2.LinkHello, MAX_HELLO_BYTES)
        try:
            peer = self.trust.link_caller(dict(hello.proof), writer.get_extra_info("peercert"))
        except Refused as why:
            log.warning("refused a link from %s: %s", writer.get_extra_info("peername"), why)
            writer.write(frame(peer_pb2.LinkWelcome(refused=str(why))))
            with contextlib.suppress(OSError):
                await writer.drain()
            return 0
        writer.write(frame(peer_pb2.LinkWelcome()))
        return peer

    async def _receive(self, peer: int, reader: asyncio.StreamReader) -> None:
        log_ = self.member.log
        while True:
            message = await read_frame(reader, peer_pb2.PeerFrame, MAX_FRAME_BYTES)
            claimed = {message.src, *(m.src for m in message.messages)}
            if not in_own_name(peer, claimed):
                others = ", ".join(str(src) for src in sorted(claimed - {peer}))
                log.warning("member %d sent a message in the name of %s: link closed", peer, others)
                return
            log_.receive(message)
