"""Apply: what the log reports chosen becomes the member's state.

Called in slot order, once per slot, on every member: each command of the
batch goes to the tree, which computes its result deterministically; the
watch registry fans its events out to the sessions' streams; liveness
hears of sessions opened and ended; the intake hands the result to the
request waiting for it (all before the next command applies). The
applied state and position go to storage at the member's next clock tick
(or after SAVE_EVERY_SLOTS slots), not per slot: the log entries they
derive from are on disk already, so a save is only what lets the log be
trimmed, and a write to the storage thread in the middle of a write's way
costs that write a thread hand-off. Once saved, the log is told it may be
trimmed behind them.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING

from coord import trace
from coord.counters import Counters
from coord.member.intake import Intake
from coord.member.liveness import Liveness
from coord.tree import Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2

if TYPE_CHECKING:
    from coord.member.log import ReplicatedLog
    from coord.storage import Storage

SAVE_EVERY_SLOTS = 256  # saved at the latest this many slots after the last save


class Apply:
    def __init__(
        self,
        tree: Tree,
        watches: WatchRegistry,
        storage: Storage,
        log: ReplicatedLog,
        counters: Counters,
        intake: Intake,
        liveness: Liveness,
        applied: int,
    ) -> None:
        """`applied`: the slot the state loaded from storage reached."""
        self._tree = tree
        self._watches = watches
        self._storage = storage
        self._log = log
        self._counters = counters
        self._intake = intake
        self._liveness = liveness
        # The applied state's writes not yet seen done, in slot order.
        self._saving: deque[tuple[int, Future]] = deque()
        self._applied = applied  # the last slot applied
        self._saved = applied  # the last slot whose state went to storage

    def chosen(self, slot: int, value: bytes) -> None:
        batch = log_pb2.Batch.FromString(value)
        if trace.ON:
            trace.commands("apply", batch.commands, slot)
        tree = self._tree
        self._counters.slots_applied += 1
        self._counters.commands_applied += len(batch.commands)
        for command in batch.commands:
            zxid = tree.zxid + 1
            applied = tree.apply(zxid, batch.time_ms, command)
            if applied.events:
                self._watches.fire(applied.events, zxid)
            self._liveness.session_applied(command, applied)
            self._intake.resolve(command, applied)
        self._applied = slot
        self._log.applied(slot)
        if slot - self._saved >= SAVE_EVERY_SLOTS:
            self.save()

    def save(self) -> None:
        """Hand storage what was applied since the last save (the member's
        clock calls this each tick, and its stop once more)."""
        if self._applied > self._saved:
            self._saving.append(
                (self._applied, self._storage.save_applied(self._tree, self._applied))
            )
            self._saved = self._applied
        self._note_durable()

    def _note_durable(self) -> None:
        """Tell the log how far the applied state is on disk: only that lets
        it be trimmed. (The writes end in order; one fails only when the
        member stops with its disk unwritable, and the log then still holds
        what a restart replays.)"""
        durable = 0
        while self._saving and self._saving[0][1].done():
            slot, saved = self._saving.popleft()
            if saved.exception() is None:
                durable = slot
        if durable:
            self._log.durable(durable)

    def reload(self) -> int:
        """A snapshot replaced our state on disk: load the tree from it (the
        changes before it are not known to the watch history). Returns the
        applied slot it holds."""
        slot = self._storage.load(self._tree)
        self._watches.history_after = self._tree.zxid
        self._applied = self._saved = slot  # on disk as installed
        return slot
