"""What callbacks receive: connection states for listeners, events for watchers."""

from __future__ import annotations

from collections import namedtuple
from enum import StrEnum


class KazooState(StrEnum):
    """The connection state a listener is told about (kazoo's values)."""

    CONNECTED = "CONNECTED"
    SUSPENDED = "SUSPENDED"
    LOST = "LOST"


class EventType(StrEnum):
    """The kind of change a watch event reports (kazoo's values)."""

    CREATED = "CREATED"
    DELETED = "DELETED"
    CHANGED = "CHANGED"
    CHILD = "CHILD"
    NONE = "NONE"


class WatchedEvent(namedtuple("WatchedEvent", "type state path")):
    """kazoo's `(type, state, path)`; the change's `zxid` rides along as an attribute
    so that code unpacking three fields keeps working."""

    zxid: int

    def __new__(cls, type: str, state: str, path: str, zxid: int = 0) -> WatchedEvent:
        event = super().__new__(cls, type, state, path)
        event.zxid = zxid
        return event
