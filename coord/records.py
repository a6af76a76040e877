"""How the member's records are laid out in LevelDB: the keys (see the
table in storage.py) and the byte codecs of a znode and its ACL. The admin
door's state digest hashes the same encodings."""

from __future__ import annotations

import struct

from coord.acl import Acl
from coord.znode import Znode
from coord_api.wire import client_pb2 as pb

FORMAT = b"coord-1"
FORMAT_KEY = b"m/format"
APPLIED_KEY = b"m/applied"
PROMISED_KEY = b"m/promised"
LOG_START_KEY = b"m/log_start"
BALLOT = struct.Struct(">QI")
LOG = b"l/"
NODE = b"n/"
ACL = b"a/"
ACL_ENTRY = struct.Struct(">BHH")  # perms, scheme length, id length; then both
SESSION = b"s/"
U64 = struct.Struct(">Q")
APPLIED = struct.Struct(">QQ")
ZNODE = struct.Struct(">qqqqqiiiqq")
SESSION_REC = struct.Struct(">iq")  # timeout_ms, last_xid; then the password
REPLY = b"r/"
REPLY_KEY = struct.Struct(">QQ")
# A stored reply starts with a tag naming its message type.
REPLY_TYPES = [
    pb.CreateResponse, pb.DeleteResponse, pb.SetDataResponse,
    pb.MultiResponse, pb.CheckResponse, pb.Error, pb.SetAclResponse,
    pb.SetQuotaResponse, pb.DeleteQuotaResponse,
]  # fmt: skip
REPLY_TAG = {kind: tag for tag, kind in enumerate(REPLY_TYPES)}
# The first key after every key of a prefix ("0" follows "/").
LOG_END, NODE_END, SESSION_END, REPLY_END, ACL_END = b"l0", b"n0", b"s0", b"r0", b"a0"
STATE = ((NODE, NODE_END), (ACL, ACL_END), (SESSION, SESSION_END), (REPLY, REPLY_END))


def encode_znode(node: Znode) -> bytes:
    return (
        ZNODE.pack(
            node.czxid, node.mzxid, node.pzxid, node.ctime, node.mtime,
            node.version, node.cversion, node.aversion, node.ephemeral_owner, node.sequence,
        )
        + node.data
    )  # fmt: skip


def decode_znode(raw: bytes) -> Znode:
    czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, owner, sequence = (
        ZNODE.unpack_from(raw)
    )
    return Znode(
        raw[ZNODE.size :], czxid, mzxid, pzxid, ctime, mtime,
        version, cversion, aversion, owner, sequence,
    )  # fmt: skip


def encode_acl(acl: Acl) -> bytes:
    parts = []
    for perms, scheme, entry_id in acl:
        scheme_raw, id_raw = scheme.encode(), entry_id.encode()
        parts.append(ACL_ENTRY.pack(perms, len(scheme_raw), len(id_raw)) + scheme_raw + id_raw)
    return b"".join(parts)


def decode_acl(raw: bytes) -> Acl:
    entries, offset = [], 0
    while offset < len(raw):
        perms, scheme_len, id_len = ACL_ENTRY.unpack_from(raw, offset)
        offset += ACL_ENTRY.size
        scheme = raw[offset : offset + scheme_len].decode()
        offset += scheme_len
        entries.append((perms, scheme, raw[offset : offset + id_len].decode()))
        offset += id_len
    return tuple(entries)


def log_key(slot: int) -> bytes:
    return LOG + U64.pack(slot)
