"""One LevelDB (plyvel) per member: the log, the applied state, identity.

Keys (big-endian integers, so byte order is numeric order):

| key              | value                                        | written            |
| ---------------- | -------------------------------------------- | ------------------ |
| ``m/format``     | ``FORMAT``: refuses a foreign directory      | once               |
| ``m/promised``   | the acceptor's promised ballot               | synced             |
| ``m/log_start``  | the first slot still in the log              | synced             |
| ``m/applied``    | last applied slot and zxid                   | with the state     |
| ``l/<slot>``     | an accepted entry: ballot and value          | synced, in batches |
| ``n/<path>``     | a znode: Stat fields, sequence counter, data | at apply           |
| ``a/<path>``     | a znode's ACL, unless it is the open one     | at apply           |
| ``s/<id>``       | a session: timeout, last xid, password       | at apply           |
| ``r/<id><xid>``  | the reply to a session's recent write        | at apply           |

Acceptor records (promise, accepted entries, truncation) are fsynced before
any message that reveals them leaves.
The state a batch of applies produced and the applied position go to disk in
one atomic LevelDB batch, so a restart neither loses nor replays a change.

All writes go through one writer thread that merges whatever queued while it
was busy into one LevelDB batch, synced if any part asked for it: group
commit, and the event loop never waits on an fsync.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

import plyvel

from coord.acl import OPEN_ACL, Acl
from coord.paxos.ballot import ZERO, Ballot
from coord.paxos.messages import Entry
from coord.tree import Session, Tree, Znode
from coord_client.wire import client_pb2 as pb

FORMAT = b"coord-1"
_FORMAT_KEY = b"m/format"
_APPLIED_KEY = b"m/applied"
_PROMISED_KEY = b"m/promised"
_LOG_START_KEY = b"m/log_start"
_BALLOT = struct.Struct(">QI")
_LOG = b"l/"
_NODE = b"n/"
_ACL = b"a/"
_ACL_ENTRY = struct.Struct(">BHH")  # perms, scheme length, id length; then both
_SESSION = b"s/"
_U64 = struct.Struct(">Q")
_APPLIED = struct.Struct(">QQ")
_ZNODE = struct.Struct(">qqqqqiiiqq")
_SESSION_REC = struct.Struct(">iq")  # timeout_ms, last_xid; then the password
_REPLY = b"r/"
_REPLY_KEY = struct.Struct(">QQ")
# A stored reply starts with a tag naming its message type.
_REPLY_TYPES = [
    pb.CreateResponse, pb.DeleteResponse, pb.SetDataResponse,
    pb.MultiResponse, pb.CheckResponse, pb.Error, pb.SetAclResponse,
]  # fmt: skip
_REPLY_TAG = {kind: tag for tag, kind in enumerate(_REPLY_TYPES)}
# The first key after every key of a prefix ("0" follows "/").
_LOG_END, _NODE_END, _SESSION_END, _REPLY_END, _ACL_END = b"l0", b"n0", b"s0", b"r0", b"a0"
_STATE = ((_NODE, _NODE_END), (_ACL, _ACL_END), (_SESSION, _SESSION_END), (_REPLY, _REPLY_END))

Ops = list[tuple[bytes, bytes | None]]  # (key, value), or (key, None) to delete


class StorageError(Exception):
    """The data directory cannot be used; the message says why, in one line."""


def encode_znode(node: Znode) -> bytes:
    return (
        _ZNODE.pack(
            node.czxid, node.mzxid, node.pzxid, node.ctime, node.mtime,
            node.version, node.cversion, node.aversion, node.ephemeral_owner, node.sequence,
        )
        + node.data
    )  # fmt: skip


def decode_znode(raw: bytes) -> Znode:
    czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, owner, sequence = (
        _ZNODE.unpack_from(raw)
    )
    return Znode(
        raw[_ZNODE.size :], czxid, mzxid, pzxid, ctime, mtime,
        version, cversion, aversion, owner, sequence,
    )  # fmt: skip


def encode_acl(acl: Acl) -> bytes:
    parts = []
    for perms, scheme, entry_id in acl:
        scheme_raw, id_raw = scheme.encode(), entry_id.encode()
        parts.append(_ACL_ENTRY.pack(perms, len(scheme_raw), len(id_raw)) + scheme_raw + id_raw)
    return b"".join(parts)


def decode_acl(raw: bytes) -> Acl:
    entries, offset = [], 0
    while offset < len(raw):
        perms, scheme_len, id_len = _ACL_ENTRY.unpack_from(raw, offset)
        offset += _ACL_ENTRY.size
        scheme = raw[offset : offset + scheme_len].decode()
        offset += scheme_len
        entries.append((perms, scheme, raw[offset : offset + id_len].decode()))
        offset += id_len
    return tuple(entries)


def _log_key(slot: int) -> bytes:
    return _LOG + _U64.pack(slot)


class _Writer(threading.Thread):
    """The one thread that writes: merges queued batches, syncs once."""

    def __init__(self, db: plyvel.DB) -> None:
        super().__init__(name="coord-storage-writer", daemon=True)
        self._db = db
        self._cond = threading.Condition()
        self._queue: list[tuple[Ops, bool, Future]] = []
        self._closed = False
        self.syncs = 0  # written by this thread only

    def submit(self, ops: Ops, sync: bool) -> Future:
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise StorageError("storage is closed")
            self._queue.append((ops, sync, future))
            self._cond.notify()
        return future

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                work, self._queue = self._queue, []
                if not work and self._closed:
                    return
            sync = any(sync for _, sync, _ in work)
            self.syncs += sync
            try:
                with self._db.write_batch(sync=sync) as batch:
                    for ops, _, _ in work:
                        for key, value in ops:
                            if value is None:
                                batch.delete(key)
                            else:
                                batch.put(key, value)
            except Exception as err:  # a disk that fails fails every waiter
                for _, _, future in work:
                    future.set_exception(err)
            else:
                for _, _, future in work:
                    future.set_result(None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self.join()


class Storage:
    """The member's disk. Log writes are synced; state writes ride on them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._db = self._open(self.data_dir)
        # Paths with an ``a/`` record: only those need one deleted when their
        # node goes or its ACL becomes the open one again.
        self._acl_paths: set[str] = set()
        self._writer = _Writer(self._db)
        self._writer.start()

    @staticmethod
    def _open(data_dir: Path) -> plyvel.DB:
        if data_dir.exists() and not data_dir.is_dir():
            raise StorageError(f"data dir {data_dir} is not a directory")
        fresh = not data_dir.exists() or not any(data_dir.iterdir())
        if not fresh and not (data_dir / "CURRENT").exists():
            raise StorageError(f"data dir {data_dir} is not empty and holds no coord data")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            db = plyvel.DB(str(data_dir), create_if_missing=fresh, paranoid_checks=True)
        except plyvel.IOError as err:
            reason = "in use by another process" if "lock" in str(err).lower() else str(err)
            raise StorageError(f"cannot open data dir {data_dir}: {reason}") from None
        except (plyvel.Error, OSError) as err:
            raise StorageError(f"cannot open data dir {data_dir}: {err}") from None
        found = db.get(_FORMAT_KEY)
        if found is None and fresh:
            db.put(_FORMAT_KEY, FORMAT, sync=True)
        elif found != FORMAT:
            db.close()
            raise StorageError(f"data dir {data_dir} holds data of another format ({found!r})")
        return db

    @property
    def syncs(self) -> int:
        """How many times the disk was synced (each a group commit)."""
        return self._writer.syncs

    def close(self) -> None:
        """Finish queued writes, then close the database."""
        self._writer.close()
        self._db.close()

    # ------------------------------------------------------------ acceptor

    def persist_acceptor(
        self, promised: Ballot | None, entries: Iterable[Entry], truncate: int
    ) -> Future:
        """Write what the Paxos core asked for, durably (one fsync); the
        future resolves once it is on disk."""
        ops: Ops = []
        if promised is not None:
            ops.append((_PROMISED_KEY, _BALLOT.pack(*promised)))
        if truncate:
            ops.extend(
                (key, None)
                for key in self._db.iterator(
                    start=_LOG, stop=_log_key(truncate + 1), include_value=False
                )
            )
            ops.append((_LOG_START_KEY, _U64.pack(truncate + 1)))
        ops.extend(
            (_log_key(e.slot), _BALLOT.pack(*e.ballot) + e.value)
            for e in entries
            if e.slot > truncate
        )
        return self._writer.submit(ops, sync=True)

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]:
        """The promise, the accepted entries and the log start, as persisted."""
        raw = self._db.get(_PROMISED_KEY)
        promised = Ballot(*_BALLOT.unpack(raw)) if raw else ZERO
        raw = self._db.get(_LOG_START_KEY)
        log_start = _U64.unpack(raw)[0] if raw else 1
        accepted = {}
        for key, value in self._db.iterator(start=_log_key(log_start), stop=_LOG_END):
            ballot = Ballot(*_BALLOT.unpack_from(value))
            accepted[_U64.unpack(key[len(_LOG) :])[0]] = (ballot, value[_BALLOT.size :])
        return promised, accepted, log_start

    # --------------------------------------------------------------- state

    def save_applied(self, tree: Tree, slot: int) -> Future:
        """Persist what the tree changed and the position it reached, as one
        atomic batch.

        The batch is built here, in the caller's thread, from the tree as it
        is now. It is not synced by itself: the log entries it derives from
        are, and LevelDB keeps batches in order.
        """
        nodes, sessions, replies = tree.take_dirty()
        ops: Ops = []
        for path in nodes:
            node = tree.nodes.get(path)
            key = path.encode()
            ops.append((_NODE + key, None if node is None else encode_znode(node)))
            if node is not None and node.acl is not OPEN_ACL:
                ops.append((_ACL + key, encode_acl(node.acl)))
                self._acl_paths.add(path)
            elif path in self._acl_paths:
                ops.append((_ACL + key, None))
                self._acl_paths.discard(path)
        for session_id in sessions:
            session = tree.sessions.get(session_id)
            if session is None:
                ops.append((_SESSION + _U64.pack(session_id), None))
                ops.extend(
                    (key, None)
                    for key in self._db.iterator(
                        prefix=_REPLY + _U64.pack(session_id), include_value=False
                    )
                )
            else:
                record = _SESSION_REC.pack(session.timeout_ms, session.last_xid)
                ops.append((_SESSION + _U64.pack(session_id), record + session.password))
        for session_id, xid in replies:
            session = tree.sessions.get(session_id)
            reply = session.replies.get(xid) if session is not None else None
            value = (
                None
                if reply is None
                else bytes([_REPLY_TAG[type(reply)]]) + (reply.SerializeToString())
            )
            ops.append((_REPLY + _REPLY_KEY.pack(session_id, xid), value))
        ops.append((_APPLIED_KEY, _APPLIED.pack(slot, tree.zxid)))
        return self._writer.submit(ops, sync=False)

    def load(self, tree: Tree) -> int:
        """Fill `tree` from disk; returns the last applied slot."""
        raw = self._db.get(_APPLIED_KEY)
        slot, zxid = _APPLIED.unpack(raw) if raw else (0, 0)
        nodes = {
            key[len(_NODE) :].decode(): decode_znode(value)
            for key, value in self._db.iterator(prefix=_NODE)
        }
        self._acl_paths = set()
        for key, value in self._db.iterator(prefix=_ACL):
            path = key[len(_ACL) :].decode()
            self._acl_paths.add(path)
            if path in nodes:
                nodes[path].acl = decode_acl(value)
        sessions = {}
        for key, value in self._db.iterator(prefix=_SESSION):
            session_id = _U64.unpack(key[len(_SESSION) :])[0]
            timeout_ms, last_xid = _SESSION_REC.unpack_from(value)
            sessions[session_id] = Session(
                session_id, timeout_ms, value[_SESSION_REC.size :], last_xid=last_xid
            )
        for key, value in self._db.iterator(prefix=_REPLY):
            session_id, xid = _REPLY_KEY.unpack(key[len(_REPLY) :])
            if session_id in sessions:
                reply = _REPLY_TYPES[value[0]].FromString(value[1:])
                sessions[session_id].replies[xid] = reply
        tree.load(nodes, sessions, zxid)
        return slot

    # ------------------------------------------------------------ snapshots

    def state_snapshot(self) -> tuple[int, int, list[tuple[bytes, bytes]]]:
        """(slot, zxid, state records) from one consistent view of the disk:
        the state and its position are written together, so they agree."""
        with self._db.snapshot() as view:
            raw = view.get(_APPLIED_KEY)
            slot, zxid = _APPLIED.unpack(raw) if raw else (0, 0)
            items = [
                item for start, stop in _STATE for item in view.iterator(start=start, stop=stop)
            ]
        return slot, zxid, items

    def install_state(self, slot: int, zxid: int, items: list[tuple[bytes, bytes]]) -> Future:
        """Replace the state with a peer's, as of `slot`, in one synced batch
        that also drops the log it covers."""
        for key, _ in items:
            if not key.startswith((_NODE, _ACL, _SESSION, _REPLY)):
                raise StorageError(f"snapshot holds a key outside the state: {key[:40]!r}")
        ops: Ops = [
            (key, None)
            for prefix, end in (*_STATE, (_LOG, _LOG_END))
            for key in self._db.iterator(start=prefix, stop=end, include_value=False)
            if prefix != _LOG or key <= _log_key(slot)
        ]
        ops.extend(items)
        ops.append((_APPLIED_KEY, _APPLIED.pack(slot, zxid)))
        ops.append((_LOG_START_KEY, _U64.pack(slot + 1)))
        return self._writer.submit(ops, sync=True)
