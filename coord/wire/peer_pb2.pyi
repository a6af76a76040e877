from coord_api.wire import client_pb2 as _client_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ballot(_message.Message):
    __slots__ = ("round", "member")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    round: int
    member: int
    def __init__(self, round: _Optional[int] = ..., member: _Optional[int] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("slot", "ballot", "value")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    slot: int
    ballot: Ballot
    value: bytes
    def __init__(self, slot: _Optional[int] = ..., ballot: _Optional[_Union[Ballot, _Mapping]] = ..., value: _Optional[bytes] = ...) -> None: ...

class Probe(_message.Message):
    __slots__ = ("round", "commit")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    round: int
    commit: int
    def __init__(self, round: _Optional[int] = ..., commit: _Optional[int] = ...) -> None: ...

class ProbeReply(_message.Message):
    __slots__ = ("round", "granted")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    round: int
    granted: bool
    def __init__(self, round: _Optional[int] = ..., granted: _Optional[bool] = ...) -> None: ...

class Prepare(_message.Message):
    __slots__ = ("ballot", "from_slot")
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    FROM_SLOT_FIELD_NUMBER: _ClassVar[int]
    ballot: Ballot
    from_slot: int
    def __init__(self, ballot: _Optional[_Union[Ballot, _Mapping]] = ..., from_slot: _Optional[int] = ...) -> None: ...

class Promise(_message.Message):
    __slots__ = ("ballot", "entries", "commit", "log_start")
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOG_START_FIELD_NUMBER: _ClassVar[int]
    ballot: Ballot
    entries: _containers.RepeatedCompositeFieldContainer[LogEntry]
    commit: int
    log_start: int
    def __init__(self, ballot: _Optional[_Union[Ballot, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., commit: _Optional[int] = ..., log_start: _Optional[int] = ...) -> None: ...

class Reject(_message.Message):
    __slots__ = ("ballot", "promised")
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    PROMISED_FIELD_NUMBER: _ClassVar[int]
    ballot: Ballot
    promised: Ballot
    def __init__(self, ballot: _Optional[_Union[Ballot, _Mapping]] = ..., promised: _Optional[_Union[Ballot, _Mapping]] = ...) -> None: ...

class Accept(_message.Message):
    __slots__ = ("ballot", "start", "values", "commit", "seq")
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ballot: Ballot
    start: int
    values: _containers.RepeatedScalarFieldContainer[bytes]
    commit: int
    seq: int
    def __init__(self, ballot: _Optional[_Union[Ballot, _Mapping]] = ..., start: _Optional[int] = ..., values: _Optional[_Iterable[bytes]] = ..., commit: _Optional[int] = ..., seq: _Optional[int] = ...) -> None: ...

class Accepted(_message.Message):
    __slots__ = ("ballot", "start", "match", "seq")
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ballot: Ballot
    start: int
    match: int
    seq: int
    def __init__(self, ballot: _Optional[_Union[Ballot, _Mapping]] = ..., start: _Optional[int] = ..., match: _Optional[int] = ..., seq: _Optional[int] = ...) -> None: ...

class Forward(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ReadIndex(_message.Message):
    __slots__ = ("request", "ballot")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    BALLOT_FIELD_NUMBER: _ClassVar[int]
    request: int
    ballot: Ballot
    def __init__(self, request: _Optional[int] = ..., ballot: _Optional[_Union[Ballot, _Mapping]] = ...) -> None: ...

class ReadIndexReply(_message.Message):
    __slots__ = ("request", "index")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    request: int
    index: int
    def __init__(self, request: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class TouchSessions(_message.Message):
    __slots__ = ("session_ids",)
    SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    session_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, session_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class PeerMessage(_message.Message):
    __slots__ = ("src", "dst", "probe", "probe_reply", "prepare", "promise", "reject", "accept", "accepted", "forward", "read_index", "read_index_reply", "touch_sessions")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    PROBE_REPLY_FIELD_NUMBER: _ClassVar[int]
    PREPARE_FIELD_NUMBER: _ClassVar[int]
    PROMISE_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    FORWARD_FIELD_NUMBER: _ClassVar[int]
    READ_INDEX_FIELD_NUMBER: _ClassVar[int]
    READ_INDEX_REPLY_FIELD_NUMBER: _ClassVar[int]
    TOUCH_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    src: int
    dst: int
    probe: Probe
    probe_reply: ProbeReply
    prepare: Prepare
    promise: Promise
    reject: Reject
    accept: Accept
    accepted: Accepted
    forward: Forward
    read_index: ReadIndex
    read_index_reply: ReadIndexReply
    touch_sessions: TouchSessions
    def __init__(self, src: _Optional[int] = ..., dst: _Optional[int] = ..., probe: _Optional[_Union[Probe, _Mapping]] = ..., probe_reply: _Optional[_Union[ProbeReply, _Mapping]] = ..., prepare: _Optional[_Union[Prepare, _Mapping]] = ..., promise: _Optional[_Union[Promise, _Mapping]] = ..., reject: _Optional[_Union[Reject, _Mapping]] = ..., accept: _Optional[_Union[Accept, _Mapping]] = ..., accepted: _Optional[_Union[Accepted, _Mapping]] = ..., forward: _Optional[_Union[Forward, _Mapping]] = ..., read_index: _Optional[_Union[ReadIndex, _Mapping]] = ..., read_index_reply: _Optional[_Union[ReadIndexReply, _Mapping]] = ..., touch_sessions: _Optional[_Union[TouchSessions, _Mapping]] = ...) -> None: ...

class PeerFrame(_message.Message):
    __slots__ = ("messages", "src")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SRC_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[PeerMessage]
    src: int
    def __init__(self, messages: _Optional[_Iterable[_Union[PeerMessage, _Mapping]]] = ..., src: _Optional[int] = ...) -> None: ...

class LinkRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LinkAddress(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: int
    def __init__(self, port: _Optional[int] = ...) -> None: ...

class LinkHello(_message.Message):
    __slots__ = ("proof",)
    class ProofEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROOF_FIELD_NUMBER: _ClassVar[int]
    proof: _containers.ScalarMap[str, str]
    def __init__(self, proof: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LinkWelcome(_message.Message):
    __slots__ = ("refused",)
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    refused: str
    def __init__(self, refused: _Optional[str] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("src", "slot", "zxid", "keys", "values", "last")
    SRC_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    src: int
    slot: int
    zxid: int
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    last: bool
    def __init__(self, src: _Optional[int] = ..., slot: _Optional[int] = ..., zxid: _Optional[int] = ..., keys: _Optional[_Iterable[bytes]] = ..., values: _Optional[_Iterable[bytes]] = ..., last: _Optional[bool] = ...) -> None: ...

class SnapshotAck(_message.Message):
    __slots__ = ("installed",)
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    installed: bool
    def __init__(self, installed: _Optional[bool] = ...) -> None: ...

class MemberStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
