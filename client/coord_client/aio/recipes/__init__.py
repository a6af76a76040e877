"""The recipes for the asyncio client, as coroutines: the classes of
`coord_client.recipes` run by the asyncio driver (`recipe.for_asyncio`), so
each algorithm is the threaded recipe's own.

As with the threaded client they are attributes of the client, kazoo's way:
`client.Lock(path, identifier)` is `Lock(client, path, identifier)`.
"""

from __future__ import annotations

from coord_client.recipes import (
    Bound,
    CancelledError,
    barrier,
    config,
    double_barrier,
    election,
    lock,
    locking_queue,
    party,
    queue,
    semaphore,
    tree_cache,
    watchers,
)
from coord_client.recipes.counter import AsyncCounter as Counter
from coord_client.recipes.recipe import for_asyncio
from coord_client.recipes.tree_cache import NodeData, TreeEvent

Barrier = for_asyncio(barrier.Barrier)
Config = for_asyncio(config.Config)
ChildrenWatch = for_asyncio(watchers.ChildrenWatch)
DataWatch = for_asyncio(watchers.DataWatch)
DoubleBarrier = for_asyncio(double_barrier.DoubleBarrier)
Election = for_asyncio(election.Election)
Lock = for_asyncio(lock.Lock)
LockingQueue = for_asyncio(locking_queue.LockingQueue)
Party = for_asyncio(party.Party)
Queue = for_asyncio(queue.Queue)
ReadLock = for_asyncio(lock.ReadLock)
Semaphore = for_asyncio(semaphore.Semaphore)
TreeCache = for_asyncio(tree_cache.TreeCache)
WriteLock = for_asyncio(lock.WriteLock)

RECIPES = {
    "Barrier": Barrier, "ChildrenWatch": ChildrenWatch, "Config": Config, "Counter": Counter,
    "DataWatch": DataWatch, "DoubleBarrier": DoubleBarrier, "Election": Election, "Lock": Lock,
    "LockingQueue": LockingQueue, "Party": Party, "Queue": Queue, "ReadLock": ReadLock,
    "Semaphore": Semaphore, "TreeCache": TreeCache, "WriteLock": WriteLock,
}  # fmt: skip

# kazoo's recipe attributes for the asyncio client (as the threaded RecipesMixin)
AioRecipesMixin = type("AioRecipesMixin", (), {name: Bound(r) for name, r in RECIPES.items()})

__all__ = [
    "RECIPES",
    "AioRecipesMixin",
    "CancelledError",
    "NodeData",
    "TreeEvent",
    *RECIPES,
]
