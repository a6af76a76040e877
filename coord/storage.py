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

Every write goes through the writer (coord/storage_writer.py): one thread
that merges what queued into one LevelDB batch (group commit), or, on a
quiet member, the caller's thread for a small acceptor write. A write that
fails (a full disk, an I/O error) is never reported done and never
skipped: the writer reopens the database (LevelDB refuses every write after
a failed one, and the log it was appending to may end in a torn record,
which recovery drops) and writes again until it succeeds. So what the disk
holds is always a prefix of what was asked, a future resolves only once
its write is on disk, and the member resumes by itself when space returns.
``failure`` says why writes are stuck meanwhile.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import plyvel
from google.protobuf.message import DecodeError

from coord.acl import OPEN_ACL
from coord.member.ports import DiskEvents
from coord.paxos.ballot import ZERO, Ballot
from coord.paxos.messages import Entry
from coord.records import (
    ACL,
    APPLIED,
    APPLIED_KEY,
    BALLOT,
    FORMAT,
    FORMAT_KEY,
    LOG,
    LOG_END,
    LOG_START_KEY,
    NODE,
    PROMISED_KEY,
    REPLY,
    REPLY_KEY,
    REPLY_TAG,
    REPLY_TYPES,
    SESSION,
    SESSION_REC,
    STATE,
    U64,
    decode_acl,
    decode_znode,
    encode_acl,
    encode_znode,
    log_key,
)  # fmt: skip
from coord.storage_writer import RESTORE_HINT, DropRange, Ops, StorageError, Writer, describe, text
from coord.tree import Session, Tree

log = logging.getLogger(__name__)

# An acceptor write this small (a request or a few: what a quiet member
# writes) may be made in the caller's thread when the writer is idle; a
# larger one (a busy member's batch), or one that drops a range (a read of
# the keys in it), always goes to the writer, so the event loop never
# waits on much.
QUIET_WRITE_BYTES = 4096


def _replies_of(session_id: int) -> DropRange:
    prefix = REPLY + U64.pack(session_id)
    return DropRange(prefix, prefix + b"\xff" * (U64.size + 1))


def _corrupted(data_dir: Path, err: Exception) -> StorageError:
    what = text(err) if isinstance(err, plyvel.Error) else f"a record does not decode: {err}"
    return StorageError(f"data dir {data_dir} is corrupted ({what}): {RESTORE_HINT}")


class Storage:
    """The member's disk. Log writes are synced; state writes ride on them."""

    def __init__(self, data_dir: Path, events: DiskEvents | None = None) -> None:
        self.data_dir = Path(data_dir)
        # Told, from the writer thread, when `failure` changes.
        self._events = events
        # Held to use the database from any thread but the writer's, and by
        # the writer to swap it for a reopened one.
        self._lock = threading.Lock()
        self._db: plyvel.DB | None = self._open(self.data_dir)
        # Why writes cannot be done now (None: they can); set by the writer.
        self.failure: str | None = None
        # Paths with an ``a/`` record: only those need one deleted when their
        # node goes or its ACL becomes the open one again.
        self._acl_paths: set[str] = set()
        self._writer = Writer(self)
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
        except plyvel.CorruptionError as err:
            raise _corrupted(data_dir, err) from None
        except plyvel.IOError as err:
            reason = "in use by another process" if "lock" in str(err).lower() else describe(err)
            raise StorageError(f"cannot open data dir {data_dir}: {reason}") from None
        except (plyvel.Error, OSError) as err:
            raise StorageError(f"cannot open data dir {data_dir}: {text(err)}") from None
        try:
            found = db.get(FORMAT_KEY, verify_checksums=True)
        except plyvel.CorruptionError as err:  # its table block is damaged
            db.close()
            raise _corrupted(data_dir, err) from None
        if found is None and fresh:
            db.put(FORMAT_KEY, FORMAT, sync=True)
        elif found != FORMAT:
            db.close()
            raise StorageError(f"data dir {data_dir} holds data of another format ({found!r})")
        return db

    def _reopen(self) -> None:
        """Close the database and open it again, which recovers what its log
        holds intact (the writer's, after a failed write)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._db = plyvel.DB(str(self.data_dir), paranoid_checks=True)

    def _write(self, batches: list[Ops], sync: bool) -> None:
        """One atomic LevelDB batch (the writer's). A range drops the keys
        the database holds in it and those put earlier in this batch."""
        db = self._db
        if db is None:
            raise StorageError("the database is not open")
        put: set[bytes] = set()
        with db.write_batch(sync=sync) as batch:
            for ops in batches:
                for op in ops:
                    if isinstance(op, DropRange):
                        for key in db.iterator(start=op.start, stop=op.stop, include_value=False):
                            batch.delete(key)
                        for key in [k for k in put if op.start <= k < op.stop]:
                            batch.delete(key)
                            put.discard(key)
                    elif op[1] is None:
                        batch.delete(op[0])
                        put.discard(op[0])
                    else:
                        batch.put(*op)
                        put.add(op[0])

    def _set_failure(self, reason: str | None) -> None:
        self.failure = reason
        if self._events is not None:
            self._events.disk_failed(reason)

    @contextmanager
    def _reading(self) -> Iterator[plyvel.DB]:
        """The database, not to be closed under the caller while it reads."""
        with self._lock:
            if self._db is None:
                raise StorageError(f"data dir {self.data_dir} cannot be read: {self.failure}")
            yield self._db

    @property
    def syncs(self) -> int:
        """How many times the disk was synced (each a group commit)."""
        return self._writer.syncs

    def close(self) -> None:
        """Finish queued writes, then close the database."""
        self._writer.close()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------ acceptor

    def persist_acceptor(
        self, promised: Ballot | None, entries: Iterable[Entry], truncate: int
    ) -> Future:
        """Write what the Paxos core asked for, durably (one fsync); the
        future resolves once it is on disk."""
        ops: Ops = []
        if promised is not None:
            ops.append((PROMISED_KEY, BALLOT.pack(*promised)))
        if truncate:
            ops.append(DropRange(LOG, log_key(truncate + 1)))
            ops.append((LOG_START_KEY, U64.pack(truncate + 1)))
        ops.extend(
            (log_key(e.slot), BALLOT.pack(*e.ballot) + e.value)
            for e in entries
            if e.slot > truncate
        )
        if truncate or sum(len(value) for _, value in ops) > QUIET_WRITE_BYTES:
            return self._writer.submit(ops, sync=True)
        return self._writer.write_now(ops, sync=True)

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]:
        """The promise, the accepted entries and the log start, as persisted."""
        with self._reading() as db, self._decoding():
            raw = db.get(PROMISED_KEY, verify_checksums=True)
            promised = Ballot(*BALLOT.unpack(raw)) if raw else ZERO
            raw = db.get(LOG_START_KEY, verify_checksums=True)
            log_start = U64.unpack(raw)[0] if raw else 1
            accepted = {}
            for key, value in db.iterator(
                start=log_key(log_start), stop=LOG_END, verify_checksums=True
            ):
                ballot = Ballot(*BALLOT.unpack_from(value))
                accepted[U64.unpack(key[len(LOG) :])[0]] = (ballot, value[BALLOT.size :])
        return promised, accepted, log_start

    @contextmanager
    def _decoding(self) -> Iterator[None]:
        """A record that does not read back, or does not decode, is one clear
        error naming the data dir and what to do."""
        try:
            yield
        except (plyvel.Error, struct.error, ValueError, IndexError, DecodeError) as err:
            raise _corrupted(self.data_dir, err) from None

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
            ops.append((NODE + key, None if node is None else encode_znode(node)))
            if node is not None and node.acl is not OPEN_ACL:
                ops.append((ACL + key, encode_acl(node.acl)))
                self._acl_paths.add(path)
            elif path in self._acl_paths:
                ops.append((ACL + key, None))
                self._acl_paths.discard(path)
        for session_id in sessions:
            session = tree.sessions.get(session_id)
            if session is None:
                ops.append((SESSION + U64.pack(session_id), None))
                ops.append(_replies_of(session_id))
            else:
                record = SESSION_REC.pack(session.timeout_ms, session.last_xid)
                ops.append((SESSION + U64.pack(session_id), record + session.password))
        for session_id, xid in replies:
            session = tree.sessions.get(session_id)
            reply = session.replies.get(xid) if session is not None else None
            value = (
                None
                if reply is None
                else bytes([REPLY_TAG[type(reply)]]) + (reply.SerializeToString())
            )
            ops.append((REPLY + REPLY_KEY.pack(session_id, xid), value))
        ops.append((APPLIED_KEY, APPLIED.pack(slot, tree.zxid)))
        return self._writer.submit(ops, sync=False)

    def load(self, tree: Tree) -> int:
        """Fill `tree` from disk; returns the last applied slot."""
        with self._reading() as db, self._decoding():
            raw = db.get(APPLIED_KEY, verify_checksums=True)
            slot, zxid = APPLIED.unpack(raw) if raw else (0, 0)
            nodes = {
                key[len(NODE) :].decode(): decode_znode(value)
                for key, value in db.iterator(prefix=NODE, verify_checksums=True)
            }
            self._acl_paths = set()
            for key, value in db.iterator(prefix=ACL, verify_checksums=True):
                path = key[len(ACL) :].decode()
                self._acl_paths.add(path)
                if path in nodes:
                    nodes[path].acl = decode_acl(value)
            sessions = {}
            for key, value in db.iterator(prefix=SESSION, verify_checksums=True):
                session_id = U64.unpack(key[len(SESSION) :])[0]
                timeout_ms, last_xid = SESSION_REC.unpack_from(value)
                sessions[session_id] = Session(
                    session_id, timeout_ms, value[SESSION_REC.size :], last_xid=last_xid
                )
            for key, value in db.iterator(prefix=REPLY, verify_checksums=True):
                session_id, xid = REPLY_KEY.unpack(key[len(REPLY) :])
                if session_id in sessions:
                    reply = REPLY_TYPES[value[0]].FromString(value[1:])
                    sessions[session_id].replies[xid] = reply
        tree.load(nodes, sessions, zxid)
        return slot

    # ------------------------------------------------------------ snapshots

    def state_snapshot(self) -> tuple[int, int, list[tuple[bytes, bytes]]]:
        """(slot, zxid, state records) from one consistent view of the disk:
        the state and its position are written together, so they agree."""
        with self._reading() as db, db.snapshot() as view:
            raw = view.get(APPLIED_KEY)
            slot, zxid = APPLIED.unpack(raw) if raw else (0, 0)
            items = [
                item for start, stop in STATE for item in view.iterator(start=start, stop=stop)
            ]
        return slot, zxid, items

    def install_state(self, slot: int, zxid: int, items: list[tuple[bytes, bytes]]) -> Future:
        """Replace the state with a peer's, as of `slot`, in one synced batch
        that also drops the log it covers."""
        for key, _ in items:
            if not key.startswith((NODE, ACL, SESSION, REPLY)):
                raise StorageError(f"snapshot holds a key outside the state: {key[:40]!r}")
        ops: Ops = [
            *(DropRange(start, stop) for start, stop in STATE),
            DropRange(LOG, log_key(slot + 1)),
        ]
        ops.extend(items)
        ops.append((APPLIED_KEY, APPLIED.pack(slot, zxid)))
        ops.append((LOG_START_KEY, U64.pack(slot + 1)))
        return self._writer.submit(ops, sync=True)
