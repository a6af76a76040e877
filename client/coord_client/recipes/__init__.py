"""The recipes: locks, semaphores, election, barriers, counters, queues,
watchers, caches, membership and configuration, built on the public Client
API only.

`RecipesMixin` makes them attributes of a client the kazoo way:
`zk.Lock(path, identifier)` is `Lock(zk, path, identifier)`.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

from coord_client.recipes.barrier import Barrier
from coord_client.recipes.config import Config
from coord_client.recipes.counter import Counter
from coord_client.recipes.double_barrier import DoubleBarrier
from coord_client.recipes.election import Election
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import Lock, ReadLock, WriteLock
from coord_client.recipes.locking_queue import LockingQueue
from coord_client.recipes.party import Party
from coord_client.recipes.queue import Queue
from coord_client.recipes.semaphore import Semaphore
from coord_client.recipes.tree_cache import NodeData, TreeCache, TreeEvent
from coord_client.recipes.watchers import ChildrenWatch, DataWatch

R = TypeVar("R")


class Bound(Generic[R]):
    """A recipe class as a client attribute: calling it passes the client first."""

    def __init__(self, recipe: type[R]) -> None:
        self.recipe = recipe

    def __get__(self, client: Any, owner: type | None = None) -> Any:
        if client is None:
            return self.recipe
        return functools.partial(self.recipe, client)


class RecipesMixin:
    """kazoo's recipe attributes for a client class: `class Client(RecipesMixin, ...)`."""

    Barrier = Bound(Barrier)
    ChildrenWatch = Bound(ChildrenWatch)
    Config = Bound(Config)
    Counter = Bound(Counter)
    DataWatch = Bound(DataWatch)
    DoubleBarrier = Bound(DoubleBarrier)
    Election = Bound(Election)
    Lock = Bound(Lock)
    LockingQueue = Bound(LockingQueue)
    Party = Bound(Party)
    Queue = Bound(Queue)
    ReadLock = Bound(ReadLock)
    Semaphore = Bound(Semaphore)
    TreeCache = Bound(TreeCache)
    WriteLock = Bound(WriteLock)


__all__ = [
    "Barrier",
    "CancelledError",
    "ChildrenWatch",
    "Config",
    "Counter",
    "DataWatch",
    "DoubleBarrier",
    "Election",
    "Lock",
    "LockingQueue",
    "NodeData",
    "Party",
    "Queue",
    "ReadLock",
    "RecipesMixin",
    "Semaphore",
    "TreeCache",
    "TreeEvent",
    "WriteLock",
]
