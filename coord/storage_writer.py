"""The storage's writer thread (coord/storage.py hands it every write).

It merges whatever queued while it was busy into one LevelDB batch, synced
if any part asked for it: group commit, and a busy member's event loop
never waits on an fsync. While it is idle, a caller may write one batch
itself (`write_now`: a quiet member's small acceptor write, which then
waits for no thread's wake), never beside it.

A write that fails (a full disk, an I/O error) is never reported done and
never skipped: the writer reopens the database and writes again, with
backoff, everything not known synced, until it succeeds. It is the
Storage's own: it calls its `_write`, `_reopen` and `_set_failure`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plyvel

from coord import trace
from coord.records import LOG, U64

if TYPE_CHECKING:
    from coord.storage import Storage

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
# Unsynced batches are kept to be written again after a failure; past this
# many, the next write is synced so that the list stays short.
MAX_UNSYNCED = 64
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


def text(err: Exception) -> str:
    """An error's message (plyvel's are bytes)."""
    if err.args and isinstance(err.args[0], bytes):
        return err.args[0].decode(errors="replace")
    return str(err) or type(err).__name__


def describe(err: Exception) -> str:
    """Why a write failed, in words an operator acts on."""
    message = text(err)
    if isinstance(err, plyvel.CorruptionError):
        return f"it is corrupted ({message}): {RESTORE_HINT}"
    return "the disk is full" if "No space left" in message else message


class Writer(threading.Thread):
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
            reason = describe(err)
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
