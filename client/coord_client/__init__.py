"""coord_client: the Python SDK for coord, a drop-in for kazoo's KazooClient."""

from coord_client.client import Client, KazooClient
from coord_client.events import EventType, KazooState, WatchedEvent
from coord_client.stat import ZnodeStat

__all__ = ["Client", "EventType", "KazooClient", "KazooState", "WatchedEvent", "ZnodeStat"]
