"""The recipes for the asyncio client, as coroutines: the threaded recipes'
algorithms, sharing their state and rules (coord_client.recipes).

As with the threaded client they are attributes of the client, kazoo's way:
`client.Lock(path, identifier)` is `Lock(client, path, identifier)`.
"""

from __future__ import annotations

from coord_client.aio.recipes.config import Config
from coord_client.aio.recipes.double_barrier import DoubleBarrier
from coord_client.aio.recipes.lock import Election, Lock, ReadLock, Semaphore, WriteLock
from coord_client.aio.recipes.locking_queue import LockingQueue
from coord_client.aio.recipes.simple import Barrier, Counter, Party, Queue
from coord_client.aio.recipes.tree_cache import NodeData, TreeCache, TreeEvent
from coord_client.aio.recipes.watchers import ChildrenWatch, DataWatch
from coord_client.recipes import Bound, CancelledError

RECIPES = (
    Barrier, ChildrenWatch, Config, Counter, DataWatch, DoubleBarrier, Election, Lock,
    LockingQueue, Party, Queue, ReadLock, Semaphore, TreeCache, WriteLock,
)  # fmt: skip

# kazoo's recipe attributes for the asyncio client (as the threaded RecipesMixin)
AioRecipesMixin = type("AioRecipesMixin", (), {r.__name__: Bound(r) for r in RECIPES})

__all__ = [
    "RECIPES",
    "AioRecipesMixin",
    "CancelledError",
    "NodeData",
    "TreeEvent",
    *(r.__name__ for r in RECIPES),
]
