"""Reads: how far this member has applied, and who waits for it.

Reads are served from the member's own tree, so a read is only as fresh as
what this member has applied. Three waits make that enough: a member that
starts serves nobody until it has caught up with a read index confirmed by
a quorum (rejoin); a client that saw zxid Z elsewhere waits here until Z is
applied (caught_up); `sync` and linearizable reads wait for a fresh read
index (everything acknowledged anywhere before the call).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import TYPE_CHECKING

from coord.tree import Tree
from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord.member.log import ReplicatedLog

REJOIN_TIMEOUT_S = 2.0
REJOIN_RETRY_S = 0.1


class Reads:
    def __init__(self, log: ReplicatedLog, tree: Tree, applied_slot: int) -> None:
        self._log = log
        self._tree = tree
        self.applied_slot = applied_slot
        self._rejoined = asyncio.Event()
        # Heaps of (position, tie-breaker, future): woken once it is reached.
        self._zxid_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._applied_slot_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_ids = itertools.count()

    def reached(self, slot: int) -> None:
        """The member has applied everything up to `slot` (by the apply loop
        or a snapshot): wake whoever waited for it or for its zxid."""
        self.applied_slot = slot
        for waiters, reached in (
            (self._zxid_waiters, self._tree.zxid),
            (self._applied_slot_waiters, slot),
        ):
            while waiters and waiters[0][0] <= reached:
                future = heapq.heappop(waiters)[2]
                if not future.done():
                    future.set_result(None)

    async def rejoin(self) -> None:
        """A member that starts does not know what was chosen while it was
        away, nor (alone) whether its own log tail was: it serves reads only
        once it has caught up with a read index confirmed by a quorum."""
        while await self.sync(REJOIN_TIMEOUT_S) is not None:
            await asyncio.sleep(REJOIN_RETRY_S)
        self._rejoined.set()

    async def caught_up(self, zxid: int, timeout: float) -> bool:
        """Wait until this member has rejoined and applied `zxid`; False if
        it did not in time."""
        try:
            await asyncio.wait_for(self._rejoined.wait(), timeout)
        except TimeoutError:
            return False
        if self._tree.zxid >= zxid:
            return True
        try:
            await asyncio.wait_for(self._wait(self._zxid_waiters, zxid), timeout)
            return True
        except TimeoutError:
            return False

    async def sync(self, timeout: float) -> pb.Error | None:
        """Catch up with everything acknowledged anywhere before this call
        (a read index confirmed by a quorum); an error if that cannot be had
        in time."""
        try:
            index = await asyncio.wait_for(self._log.read_index(), timeout)
        except TimeoutError:
            return pb.Error(code=pb.CONNECTION_LOSS, message="no leader confirmed a read index")
        if self.applied_slot < index:
            try:
                await asyncio.wait_for(self._wait(self._applied_slot_waiters, index), timeout)
            except TimeoutError:
                return pb.Error(code=pb.OPERATION_TIMEOUT, message="member did not catch up")
        return None

    def _wait(
        self, waiters: list[tuple[int, int, asyncio.Future[None]]], position: int
    ) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(waiters, (position, next(self._waiter_ids), future))
        return future
