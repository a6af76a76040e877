"""What one apply hands back: its result or the refusal, and the changes it
made as watch events.

A refusal is a ``TreeError`` while an op runs and a ``pb.Error`` once the
command is done, so the result a session may be re-sent is the same bytes on
every member.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from coord.acl import OPEN_ACL, Acl
from coord_api.wire import client_pb2 as pb

Code = pb.ErrorCode


class EventType(IntEnum):
    CREATED = pb.CREATED
    DELETED = pb.DELETED
    CHANGED = pb.CHANGED
    CHILD = pb.CHILD


NODE_EVENTS = (EventType.CREATED, EventType.DELETED)  # one per node made or removed


@dataclass(frozen=True, slots=True)
class Event:
    """A change one apply made, as a watch sees it, with the ACL the node it
    names had then: only a watcher that may READ the node hears it."""

    type: EventType
    path: str
    acl: Acl = OPEN_ACL


class TreeError(Exception):
    """A request the tree refuses; it carries the wire error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_wire(self) -> pb.Error:
        return pb.Error(code=self.code, message=self.message)


@dataclass(slots=True)
class Applied:
    """What one command did: its wire result (or error) and its events."""

    result: object  # a pb response message, or pb.Error
    events: list[Event]

    @property
    def ok(self) -> bool:
        return not isinstance(self.result, pb.Error)
