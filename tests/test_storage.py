"""The storage writer on a real LevelDB: writes land in the order asked,
merged or not, and a write the disk refused lands once there is room."""

from __future__ import annotations

import threading

import plyvel

from coord.paxos.ballot import Ballot
from coord.paxos.messages import Entry
from coord.records import BALLOT as BALLOT_RECORD
from coord.records import PROMISED_KEY
from coord.storage import Storage
from tests.test_disk import fill, small_disk

BALLOT = Ballot(1, 1)


def test_truncations_drop_entries_written_in_the_same_group(tmp_path):
    """Each round writes an entry and drops the one before: queued behind
    each other they are merged into one LevelDB batch, where a dropped range
    must cover what the batch itself put."""
    storage = Storage(tmp_path / "data")
    futures = [
        storage.persist_acceptor(None, [Entry(slot, BALLOT, b"v%d" % slot)], truncate=slot - 1)
        for slot in range(1, 200)
    ]
    for future in futures:
        future.result(10)
    _, accepted, log_start = storage.load_acceptor()
    storage.close()
    assert (sorted(accepted), log_start) == ([199], 199)
    db = plyvel.DB(str(tmp_path / "data"))
    try:
        assert len(list(db.iterator(prefix=b"l/", include_value=False))) == 1
    finally:
        db.close()


def test_a_write_on_a_quiet_storage_is_durable_when_the_call_returns(tmp_path):
    """A small write, nothing queued or under way: the caller's thread
    writes it (no wait for the writer thread's wake), so its future is done
    on return."""
    storage = Storage(tmp_path / "data")
    try:
        for slot in range(1, 4):
            future = storage.persist_acceptor(None, [Entry(slot, BALLOT, b"v")], truncate=0)
            assert future.done() and future.result() is None
        assert sorted(storage.load_acceptor()[1]) == [1, 2, 3]
        # A busy member's batch, or a write that drops a range (a read of
        # its keys), goes to the writer thread even so.
        large = storage.persist_acceptor(None, [Entry(4, BALLOT, b"x" * 5000)], truncate=0)
        assert not large.done()
        large.result(10)
        truncating = storage.persist_acceptor(None, [Entry(5, BALLOT, b"v")], truncate=2)
        assert not truncating.done()
        truncating.result(10)
        assert sorted(storage.load_acceptor()[1]) == [3, 4, 5]
    finally:
        storage.close()


def test_a_write_behind_queued_ones_waits_for_them(tmp_path):
    """The writer thread has work: a new write goes behind it, never
    beside it, so the later promise is the one on disk."""
    storage = Storage(tmp_path / "data")
    try:
        earlier = storage._writer.submit(
            [(PROMISED_KEY, BALLOT_RECORD.pack(3, 1))]
            + [(b"z/pad%d" % i, b"x" * 1000) for i in range(2000)],
            sync=True,
        )
        later = storage.persist_acceptor(Ballot(4, 1), [], truncate=0)
        assert not later.done()
        later.result(10)
        assert earlier.done()
        assert storage.load_acceptor()[0] == Ballot(4, 1)
    finally:
        storage.close()


def test_a_refused_write_lands_once_there_is_room(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        failures: list[str | None] = []
        changed = threading.Condition()

        class Events:
            def disk_failed(self, reason: str | None) -> None:
                with changed:
                    failures.append(reason)
                    changed.notify_all()

        storage = Storage(disk / "data", Events())
        try:
            filler = fill(disk)
            big = b"x" * (1 << 16)
            small = b"x" * 4000
            # Small ones are tried in our thread (the storage is quiet); the
            # first the disk refuses there (once the log's last page is
            # full) is left to the writer thread's retries.
            futures = []
            for slot in range(1, 4):
                futures.append(storage.persist_acceptor(None, [Entry(slot, BALLOT, small)], 0))
                if not futures[-1].done():
                    break
            assert not futures[-1].done(), "small writes landed on a full disk"
            smalls = len(futures)
            futures += [
                storage.persist_acceptor(None, [Entry(slot, BALLOT, big)], truncate=0)
                for slot in range(smalls + 1, 9)
            ]
            with changed:
                assert changed.wait_for(lambda: failures, 30), "the write never failed"
            assert failures == ["the disk is full"]
            assert not any(future.done() for future in futures[-1:]), "done without a disk"
            filler.unlink()
            for future in futures:
                assert future.result(30) is None
            assert failures == ["the disk is full", None]
        finally:
            storage.close()
        storage = Storage(disk / "data")
        try:
            _, accepted, _ = storage.load_acceptor()
        finally:
            storage.close()
        assert sorted(accepted) == list(range(1, 9))
        values = [accepted[slot][1] for slot in sorted(accepted)]
        assert values == [small] * smalls + [big] * (8 - smalls)
