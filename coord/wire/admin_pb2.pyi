from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LinkFault(_message.Message):
    __slots__ = ("peer", "blocked", "drop", "delay_ms")
    PEER_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    peer: int
    blocked: bool
    drop: float
    delay_ms: int
    def __init__(self, peer: _Optional[int] = ..., blocked: _Optional[bool] = ..., drop: _Optional[float] = ..., delay_ms: _Optional[int] = ...) -> None: ...

class Faults(_message.Message):
    __slots__ = ("links", "clock_offset_s", "clock_rate")
    LINKS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_S_FIELD_NUMBER: _ClassVar[int]
    CLOCK_RATE_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[LinkFault]
    clock_offset_s: float
    clock_rate: float
    def __init__(self, links: _Optional[_Iterable[_Union[LinkFault, _Mapping]]] = ..., clock_offset_s: _Optional[float] = ..., clock_rate: _Optional[float] = ...) -> None: ...

class FaultsAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DigestRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Digest(_message.Message):
    __slots__ = ("zxid", "applied_slot", "sha256", "znodes", "sessions")
    ZXID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SLOT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ZNODES_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    zxid: int
    applied_slot: int
    sha256: str
    znodes: int
    sessions: int
    def __init__(self, zxid: _Optional[int] = ..., applied_slot: _Optional[int] = ..., sha256: _Optional[str] = ..., znodes: _Optional[int] = ..., sessions: _Optional[int] = ...) -> None: ...

class TraceRequest(_message.Message):
    __slots__ = ("action",)
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STOP: _ClassVar[TraceRequest.Action]
        START: _ClassVar[TraceRequest.Action]
        PEEK: _ClassVar[TraceRequest.Action]
    STOP: TraceRequest.Action
    START: TraceRequest.Action
    PEEK: TraceRequest.Action
    ACTION_FIELD_NUMBER: _ClassVar[int]
    action: TraceRequest.Action
    def __init__(self, action: _Optional[_Union[TraceRequest.Action, str]] = ...) -> None: ...

class TraceMark(_message.Message):
    __slots__ = ("t_ns", "stage", "slot", "session_id", "xid", "peer")
    T_NS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    XID_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    t_ns: int
    stage: str
    slot: int
    session_id: int
    xid: int
    peer: int
    def __init__(self, t_ns: _Optional[int] = ..., stage: _Optional[str] = ..., slot: _Optional[int] = ..., session_id: _Optional[int] = ..., xid: _Optional[int] = ..., peer: _Optional[int] = ...) -> None: ...

class TraceMarks(_message.Message):
    __slots__ = ("marks",)
    MARKS_FIELD_NUMBER: _ClassVar[int]
    marks: _containers.RepeatedCompositeFieldContainer[TraceMark]
    def __init__(self, marks: _Optional[_Iterable[_Union[TraceMark, _Mapping]]] = ...) -> None: ...
