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

Writes go through one writer thread that merges whatever queued while it
was busy into one LevelDB batch, synced if any part asked for it: group
commit, and a busy member's event loop never waits on an fsync. A small
acceptor write that finds the writer idle (nothing queued, nothing under
way: a quiet member) is written in the caller's thread instead, so that it
waits for no thread's wake and its messages go out in the same turn
(BENCHMARKS.md, session 12); the event loop then waits for that one fsync.

A write that fails (a full disk, an I/O error) is never reported done and
never skipped: the writer reopens the database (LevelDB refuses every write
after a failed one, and the log it was appending to may end in a torn
record, which recovery drops) and writes again, with backoff, everything
not known synced, until it succeeds. So what the disk holds is always a
prefix of what was asked, a future resolves only once its write is on disk,
and the member resumes by itself when space returns. ``failure`` says why
writes are stuck meanwhile.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import plyvel
from google.protobuf.message import DecodeError

from coord import trace
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
from coord.tree import Session, Tree

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
# Unsynced batches are kept to be written again after a failure; past this
# many, the next write is synced so that the list stays short.
MAX_UNSYNCED = 64
# An acceptor write this small (a request or a few: what a quiet member
# writes) may be made in the caller's thread when the writer is idle; a
# larger one (a busy member's batch), or one that drops a range (a read of
# the keys in it), always goes to the writer, so the event loop never
# waits on much.
QUIET_WRITE_BYTES = 4096
RESTORE_HINT = (
    "restore it from a backup, or move it away and start the member empty "
    "so it resyncs from its peers"
)


@dataclass(frozen=True, slots=True)
class DropRange:
    """Delete every key in [start, stop) as of this point in the writes:
    resolved in the writer thread, so that no other thread reads the
    database while the writer may be reopening it."""

    start: bytes
    stop: bytes


# (key, value), (key, None) to delete, or a range to delete
Ops = list[tuple[bytes, bytes | None] | DropRange]


class StorageError(Exception):
    """The data directory cannot be used; the message says why, in one line."""


def _log_slots(work: list[tuple[Ops, bool, Future]]) -> list[int]:
    """The log slots a writer's round writes (for trace marks)."""
    return [
        U64.unpack_from(op[0], len(LOG))[0]
        for ops, _, _ in work
        for op in ops
        if isinstance(op, tuple) and op[0].startswith(LOG)
    ]


def _replies_of(session_id: int) -> DropRange:
    prefix = REPLY + U64.pack(session_id)
    return DropRange(prefix, prefix + b"\xff" * (U64.size + 1))


def _text(err: Exception) -> str:
    """An error's message (plyvel's are bytes)."""
    if err.args and isinstance(err.args[0], bytes):
        return err.args[0].decode(errors="replace")
    return str(err) or type(err).__name__


def _corrupted(data_dir: Path, err: Exception) -> StorageError:
    what = _text(err) if isinstance(err, plyvel.Error) else f"a record does not decode: {err}"
    return StorageError(f"data dir {data_dir} is corrupted ({what}): {RESTORE_HINT}")


def _describe(err: Exception) -> str:
    """Why a write failed, in words an operator acts on."""
    text = _text(err)
    if isinstance(err, plyvel.CorruptionError):
        return f"it is corrupted ({text}): {RESTORE_HINT}"
    return "the disk is full" if "No space left" in text else text


class _Writer(threading.Thread):
    """The thread that writes: merges queued batches, syncs once, and after
    a failure retries until the disk takes the writes again; while it is
    idle a caller may write one batch itself (write_now), never beside it."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(name="coord-storage-writer", daemon=True)
        self._storage = storage
        self._cond = threading.Condition()
        self._queue: list[tuple[Ops, bool, Future]] = []
        self._closed = False
        # Written since the last sync: a failure may have lost them.
        self._unsynced: list[Ops] = []
        self._busy = False  # a write is under way (here or in a caller's thread)
        self.syncs = 0  # written by whoever holds _busy

    def write_now(self, ops: Ops, sync: bool) -> Future:
        """Write in the caller's thread if nothing is queued or under way:
        a write on a quiet member then waits for no thread's wake; else, or
        if it fails, the thread takes it (and retries) as `submit` would."""
        with self._cond:
            if self._closed or self._queue or self._busy:
                idle = False
            else:
                idle = self._busy = True
        if not idle:
            return self.submit(ops, sync)
        future: Future = Future()
        try:
            self._write_round([(ops, sync, future)])
        except Exception:  # the writer thread retries it, with every rule it keeps
            with self._cond:
                self._queue.insert(0, (ops, sync, future))
                self._busy = False
                self._cond.notify()
            return future
        with self._cond:
            self._busy = False
            if self._queue:
                self._cond.notify()
        future.set_result(None)
        return future

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
                while (not self._queue or self._busy) and not self._closed:
                    self._cond.wait()
                work, self._queue = self._queue, []
                if not work and self._closed:
                    return
                self._busy = True
            try:
                self._write_round(work)
            except Exception as err:  # whatever failed, the writes must still land
                if not self._retry(work, err):
                    return
                work = []  # _retry resolved them
            for _, _, future in work:
                future.set_result(None)
            # Only now may a caller write: these are on disk, though their
            # reports may reach the loop after its own (the driver sends in
            # write order whatever order the reports come in).
            with self._cond:
                self._busy = False

    def _write_round(self, work: list[tuple[Ops, bool, Future]]) -> None:
        """One batch of queued writes, synced if any asked for it (or too
        many went unsynced); raises if the disk refused it."""
        sync = any(sync for _, sync, _ in work) or len(self._unsynced) >= MAX_UNSYNCED
        if trace.ON:
            trace.slots("fsync_start", _log_slots(work))
        self._storage._write([ops for ops, _, _ in work], sync)
        if trace.ON:
            trace.slots("fsync_end", _log_slots(work))
        self.syncs += sync
        if sync:
            self._unsynced.clear()
        else:
            self._unsynced.extend(ops for ops, _, _ in work)

    def _retry(self, work: list[tuple[Ops, bool, Future]], err: Exception) -> bool:
        """Reopen and write again, with backoff, until it works; False if
        the storage was closed first (the writes then fail). Each new
        reason is logged once."""
        storage = self._storage
        delay = RETRY_FIRST_S
        while True:
            reason = _describe(err)
            if reason != storage.failure:
                log.error(
                    "cannot write the data dir %s: %s; writes are refused until it "
                    "can be written again (retrying on its own)",
                    storage.data_dir, reason,
                )  # fmt: skip
                storage._set_failure(reason)
            with self._cond:
                self._cond.wait_for(lambda: self._closed, delay)
                work += self._queue
                self._queue = []
                if self._closed:
                    for _, _, future in work:
                        future.set_exception(StorageError(f"not written: {reason}"))
                    return False
            try:
                storage._reopen()
                storage._write([*self._unsynced, *(ops for ops, _, _ in work)], sync=True)
            except Exception as again:  # still failing, perhaps for a new reason
                err = again
                delay = min(2 * delay, RETRY_MAX_S)
                continue
            self.syncs += 1
            self._unsynced.clear()
            log.warning("data dir %s can be written again: writes resume", storage.data_dir)
            storage._set_failure(None)
            for _, _, future in work:
                future.set_result(None)
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self.join()


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
        self._writer = _Writer(self)
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
            reason = "in use by another process" if "lock" in str(err).lower() else _describe(err)
            raise StorageError(f"cannot open data dir {data_dir}: {reason}") from None
        except (plyvel.Error, OSError) as err:
            raise StorageError(f"cannot open data dir {data_dir}: {_text(err)}") from None
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
