"""coord_client.aio: the SDK for asyncio applications.

`async with Client(hosts=...) as zk:` then `await zk.create(...)`: the
threaded client's operations, exceptions (coord_client.exceptions), states
and recipes, as coroutines.
"""

from coord_client.aio.client import Client, KazooClient
from coord_client.events import EventType, KazooState, WatchedEvent
from coord_client.stat import ZnodeStat

__all__ = ["Client", "EventType", "KazooClient", "KazooState", "WatchedEvent", "ZnodeStat"]
