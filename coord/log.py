"""The single-member log: a proposal is chosen once it is on disk.

The replica proposes batches and applies what the log reports chosen, in
slot order. Multi-Paxos replaces this class with one of the same shape
(``propose``, the ``on_chosen`` callback, ``status``) and nothing else
changes: one member takes the same path as five.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future

from coord.storage import Storage

log = logging.getLogger(__name__)

ChosenCallback = Callable[[int, bytes], None]


class SingleMemberLog:
    member_id = 1
    is_leader = True

    def __init__(self, storage: Storage, applied_slot: int, on_chosen: ChosenCallback) -> None:
        self._storage = storage
        self._on_chosen = on_chosen
        self._loop = asyncio.get_running_loop()
        self._next_slot = max(applied_slot, storage.last_log_slot()) + 1
        self.committed_slot = self._next_slot - 1
        self._recovered = [
            (slot, value) for slot, value in storage.log_entries(applied_slot + 1)
        ]

    def start(self) -> None:
        """Re-deliver what was chosen (on disk) but not yet applied."""
        recovered, self._recovered = self._recovered, []
        for slot, value in recovered:
            self._on_chosen(slot, value)

    def propose(self, value: bytes) -> None:
        slot = self._next_slot
        self._next_slot += 1
        self._storage.append([(slot, value)]).add_done_callback(
            lambda future: self._loop.call_soon_threadsafe(self._written, slot, value, future)
        )

    def _written(self, slot: int, value: bytes, future: Future) -> None:
        if future.exception() is not None:
            # Fail-stop: a member that cannot write its log must not serve.
            log.critical("log write failed, stopping: %s", future.exception())
            os._exit(70)
        self.committed_slot = slot
        self._on_chosen(slot, value)

    def covered_by_state(self, slot: int) -> tuple[int, ...]:
        """Log entries the applied state now makes redundant: one member
        serves no lagging peer, so the entry just applied."""
        return (slot,)

    def status(self) -> dict:
        return {"role": "leader", "leader_ballot": f"1.{self.member_id}",
                "committed_slot": self.committed_slot}  # fmt: skip
