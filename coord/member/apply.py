"""Apply: what the log reports chosen becomes the member's state.

Called in slot order, once per slot, on every member: each command of the
batch goes to the tree, which computes its result deterministically; the
watch registry fans its events out to the sessions' streams; liveness
hears of sessions opened and ended; the intake hands the result to the
request waiting for it (all before the next command applies). Then the
applied state and position go to storage, and once they are on disk the
log is told it may be trimmed behind them.
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
    ) -> None:
        self._tree = tree
        self._watches = watches
        self._storage = storage
        self._log = log
        self._counters = counters
        self._intake = intake
        self._liveness = liveness
        # The applied state's writes not yet seen done, in slot order.
        self._saving: deque[tuple[int, Future]] = deque()

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
        self._saving.append((slot, self._storage.save_applied(tree, slot)))
        self._log.applied(slot)
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
        return slot
