"""Who may call a member's Peer and Admin services, and how a member calls
its peers: by peer TLS (the certificate names the member), by the cluster
secret (peer_auth.py), by both (both must agree), or, only when the operator
said --insecure-peers, on the caller's word.

A refusal is UNAUTHENTICATED (AUTH_FAILED: who are you?) or
PERMISSION_DENIED (NO_AUTH: not for you), with the reason, and comes before
the call does anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

import grpc

from coord.acl import is_super
from coord.rpc.callers import unary_ids
from coord.rpc.guard import abort
from coord.rpc.peer_auth import MEMBER, Refused, SecretChecker, sign
from coord.rpc.peer_tls import PeerTls, member_name, member_of, member_of_certificate
from coord.session.credentials import AuthFailed
from coord_api.wire import client_pb2 as pb

PEER = "/coord.v1.Peer/"  # the gRPC path of a Peer method is PEER + its name
ADMIN = "/coord.v1.Admin/"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


async def refuse(context: grpc.aio.ServicerContext, reason: str) -> NoReturn:
    """The caller is a member, but may not do this."""
    await abort(context, pb.Error(code=pb.NO_AUTH, message=reason))


@dataclass
class MemberTrust:
    """This member's peer credentials and its peers' doors (HOST:PORT where
    each serves Peer)."""

    member_id: int
    doors: dict[int, str]
    secret: bytes | None = None
    tls: PeerTls | None = None
    insecure: bool = False
    super_digest: str = ""  # the super user's digest id (--superuser-digest), if any
    _checker: SecretChecker | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.secret is not None:
            self._checker = SecretChecker(self.secret, self.member_id)

    @property
    def single(self) -> bool:
        return len(self.doors) == 1

    # ----------------------------------------------------------- calling

    def channel(self, peer: int) -> grpc.aio.Channel:
        """A channel to `peer`'s door; with TLS, only `peer` may answer."""
        address = self.doors[peer]
        if self.tls is None:
            return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        options = [*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", member_name(peer))]
        return grpc.aio.secure_channel(address, self.tls.channel_credentials(), options=options)

    def metadata(self, method: str, peer: int) -> tuple[tuple[str, str], ...]:
        """What proves us to `peer` for one call of `method` (its gRPC path)."""
        if self.secret is None:
            return ((MEMBER, str(self.member_id)),)
        return sign(self.secret, method, self.member_id, peer)

    # ---------------------------------------------------------- answering

    async def authenticate(self, context: grpc.aio.ServicerContext, method: str) -> int:
        """The member making this call, proven as configured; or the call
        ends UNAUTHENTICATED."""
        try:
            return self._caller(context, method)
        except Refused as why:
            await abort(context, pb.Error(code=pb.AUTH_FAILED, message=str(why)))

    def link_caller(self, proof: dict[str, str], certificate: dict | None) -> int:
        """The member opening a replication link to us, proven as a Peer
        call is (its LinkHello's proof, its certificate); never ourselves,
        and nobody when we have no peers. Refused says why."""
        if self.single:
            raise Refused("a single member serves no peer link")
        named = member_of_certificate(certificate) if self.tls is not None else None
        caller = self._identify(named, PEER + "Link", proof.items())
        if caller == self.member_id:
            raise Refused(f"member {caller} is this member")
        return caller

    def _caller(self, context: grpc.aio.ServicerContext, method: str) -> int:
        named = member_of(context.auth_context()) if self.tls is not None else None
        return self._identify(named, method, context.invocation_metadata())

    def _identify(
        self, named: int | None, method: str, metadata: Iterable[tuple[str, str | bytes]]
    ) -> int:
        """The member proven by its certificate (`named`, with peer TLS)
        and by the signature in `metadata` (with the secret)."""
        claims = set()
        if self.tls is not None:
            if named is None:
                raise Refused("the peer certificate names no member (DNS name member-N)")
            claims.add(named)
        if self._checker is not None:
            claims.add(self._checker.check(method, metadata))
        if not claims:
            if not self.insecure:
                raise Refused("this member has no peer credentials (--cluster-secret-file)")
            claimed = dict(metadata).get(MEMBER, "")
            if not isinstance(claimed, str) or not claimed.isdigit():
                raise Refused(f"no {MEMBER} header")
            claims.add(int(claimed))
        if len(claims) > 1:
            raise Refused("the peer certificate and the secret name different members")
        caller = claims.pop()
        if caller not in self.doors:
            raise Refused(f"member {caller} is not in this cluster")
        return caller

    async def authorize_peer(self, context: grpc.aio.ServicerContext, method: str) -> int:
        """The peer making this Peer call: never ourselves, and nobody when
        we have no peers."""
        if self.single:
            await refuse(context, "a single member serves no peer RPC")
        caller = await self.authenticate(context, method)
        if caller == self.member_id:
            await refuse(context, f"member {caller} is this member")
        return caller

    async def authorize_admin(self, context: grpc.aio.ServicerContext, method: str) -> int:
        """Admin calls are for the cluster's members (tools given the
        secret or a member certificate) and the super user (its credential
        in ``coord-auth`` metadata, as on a unary client call): the member
        id, or 0 for the super user."""
        if self.super_digest and self._is_super(context):
            return 0
        return await self.authenticate(context, method)

    def _is_super(self, context: grpc.aio.ServicerContext) -> bool:
        try:
            return is_super(unary_ids(context, self.super_digest))
        except AuthFailed:
            return False
