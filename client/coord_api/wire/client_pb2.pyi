from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OK: _ClassVar[ErrorCode]
    NO_NODE: _ClassVar[ErrorCode]
    NODE_EXISTS: _ClassVar[ErrorCode]
    BAD_VERSION: _ClassVar[ErrorCode]
    NOT_EMPTY: _ClassVar[ErrorCode]
    NO_CHILDREN_FOR_EPHEMERALS: _ClassVar[ErrorCode]
    BAD_ARGUMENTS: _ClassVar[ErrorCode]
    DATA_TOO_LARGE: _ClassVar[ErrorCode]
    ROLLED_BACK: _ClassVar[ErrorCode]
    RUNTIME_INCONSISTENCY: _ClassVar[ErrorCode]
    SESSION_EXPIRED: _ClassVar[ErrorCode]
    CONNECTION_LOSS: _ClassVar[ErrorCode]
    OPERATION_TIMEOUT: _ClassVar[ErrorCode]
    NO_AUTH: _ClassVar[ErrorCode]
    AUTH_FAILED: _ClassVar[ErrorCode]
    NOT_READY: _ClassVar[ErrorCode]
    UNIMPLEMENTED: _ClassVar[ErrorCode]
    INVALID_ACL: _ClassVar[ErrorCode]
    NOT_READ_ONLY: _ClassVar[ErrorCode]
    QUOTA_EXCEEDED: _ClassVar[ErrorCode]
    LIMIT_EXCEEDED: _ClassVar[ErrorCode]

class Perm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERM_NONE: _ClassVar[Perm]
    READ: _ClassVar[Perm]
    WRITE: _ClassVar[Perm]
    CREATE: _ClassVar[Perm]
    DELETE: _ClassVar[Perm]
    ADMIN: _ClassVar[Perm]
    ALL: _ClassVar[Perm]

class WatchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSISTENT: _ClassVar[WatchMode]
    PERSISTENT_RECURSIVE: _ClassVar[WatchMode]

class WatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANY: _ClassVar[WatchKind]
    DATA: _ClassVar[WatchKind]
    CHILDREN: _ClassVar[WatchKind]
    PERSISTENT_WATCH: _ClassVar[WatchKind]
    PERSISTENT_RECURSIVE_WATCH: _ClassVar[WatchKind]
    EXISTS: _ClassVar[WatchKind]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_NONE: _ClassVar[EventType]
    CREATED: _ClassVar[EventType]
    DELETED: _ClassVar[EventType]
    CHANGED: _ClassVar[EventType]
    CHILD: _ClassVar[EventType]
OK: ErrorCode
NO_NODE: ErrorCode
NODE_EXISTS: ErrorCode
BAD_VERSION: ErrorCode
NOT_EMPTY: ErrorCode
NO_CHILDREN_FOR_EPHEMERALS: ErrorCode
BAD_ARGUMENTS: ErrorCode
DATA_TOO_LARGE: ErrorCode
ROLLED_BACK: ErrorCode
RUNTIME_INCONSISTENCY: ErrorCode
SESSION_EXPIRED: ErrorCode
CONNECTION_LOSS: ErrorCode
OPERATION_TIMEOUT: ErrorCode
NO_AUTH: ErrorCode
AUTH_FAILED: ErrorCode
NOT_READY: ErrorCode
UNIMPLEMENTED: ErrorCode
INVALID_ACL: ErrorCode
NOT_READ_ONLY: ErrorCode
QUOTA_EXCEEDED: ErrorCode
LIMIT_EXCEEDED: ErrorCode
PERM_NONE: Perm
READ: Perm
WRITE: Perm
CREATE: Perm
DELETE: Perm
ADMIN: Perm
ALL: Perm
PERSISTENT: WatchMode
PERSISTENT_RECURSIVE: WatchMode
ANY: WatchKind
DATA: WatchKind
CHILDREN: WatchKind
PERSISTENT_WATCH: WatchKind
PERSISTENT_RECURSIVE_WATCH: WatchKind
EXISTS: WatchKind
EVENT_NONE: EventType
CREATED: EventType
DELETED: EventType
CHANGED: EventType
CHILD: EventType

class Stat(_message.Message):
    __slots__ = ("czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion", "ephemeral_owner", "data_length", "num_children")
    CZXID_FIELD_NUMBER: _ClassVar[int]
    MZXID_FIELD_NUMBER: _ClassVar[int]
    PZXID_FIELD_NUMBER: _ClassVar[int]
    CTIME_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CVERSION_FIELD_NUMBER: _ClassVar[int]
    AVERSION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_OWNER_FIELD_NUMBER: _ClassVar[int]
    DATA_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NUM_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    czxid: int
    mzxid: int
    pzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int
    data_length: int
    num_children: int
    def __init__(self, czxid: _Optional[int] = ..., mzxid: _Optional[int] = ..., pzxid: _Optional[int] = ..., ctime: _Optional[int] = ..., mtime: _Optional[int] = ..., version: _Optional[int] = ..., cversion: _Optional[int] = ..., aversion: _Optional[int] = ..., ephemeral_owner: _Optional[int] = ..., data_length: _Optional[int] = ..., num_children: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Id(_message.Message):
    __slots__ = ("scheme", "id")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    id: str
    def __init__(self, scheme: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ACL(_message.Message):
    __slots__ = ("perms", "id")
    PERMS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    perms: int
    id: Id
    def __init__(self, perms: _Optional[int] = ..., id: _Optional[_Union[Id, _Mapping]] = ...) -> None: ...

class AuthRequest(_message.Message):
    __slots__ = ("scheme", "credential")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    credential: bytes
    def __init__(self, scheme: _Optional[str] = ..., credential: _Optional[bytes] = ...) -> None: ...

class AuthResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAclRequest(_message.Message):
    __slots__ = ("path", "session", "min_zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MIN_ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    session: SessionRef
    min_zxid: int
    def __init__(self, path: _Optional[str] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ..., min_zxid: _Optional[int] = ...) -> None: ...

class GetAclResponse(_message.Message):
    __slots__ = ("acl", "stat", "zxid")
    ACL_FIELD_NUMBER: _ClassVar[int]
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    acl: _containers.RepeatedCompositeFieldContainer[ACL]
    stat: Stat
    zxid: int
    def __init__(self, acl: _Optional[_Iterable[_Union[ACL, _Mapping]]] = ..., stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class SetAclRequest(_message.Message):
    __slots__ = ("path", "acl", "version", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    acl: _containers.RepeatedCompositeFieldContainer[ACL]
    version: int
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., acl: _Optional[_Iterable[_Union[ACL, _Mapping]]] = ..., version: _Optional[int] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class SetAclResponse(_message.Message):
    __slots__ = ("stat", "zxid")
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    stat: Stat
    zxid: int
    def __init__(self, stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class Quota(_message.Message):
    __slots__ = ("path", "count", "bytes", "used_count", "used_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_COUNT_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    count: int
    bytes: int
    used_count: int
    used_bytes: int
    def __init__(self, path: _Optional[str] = ..., count: _Optional[int] = ..., bytes: _Optional[int] = ..., used_count: _Optional[int] = ..., used_bytes: _Optional[int] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("path", "count", "bytes", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    count: int
    bytes: int
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., count: _Optional[int] = ..., bytes: _Optional[int] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class SetQuotaResponse(_message.Message):
    __slots__ = ("quota", "zxid")
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    zxid: int
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class GetQuotaRequest(_message.Message):
    __slots__ = ("path", "session", "min_zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MIN_ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    session: SessionRef
    min_zxid: int
    def __init__(self, path: _Optional[str] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ..., min_zxid: _Optional[int] = ...) -> None: ...

class GetQuotaResponse(_message.Message):
    __slots__ = ("quota", "zxid")
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    zxid: int
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class DeleteQuotaRequest(_message.Message):
    __slots__ = ("path", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class DeleteQuotaResponse(_message.Message):
    __slots__ = ("zxid",)
    ZXID_FIELD_NUMBER: _ClassVar[int]
    zxid: int
    def __init__(self, zxid: _Optional[int] = ...) -> None: ...

class SessionRef(_message.Message):
    __slots__ = ("session_id", "password")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    password: bytes
    def __init__(self, session_id: _Optional[int] = ..., password: _Optional[bytes] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("path", "data", "ephemeral", "sequential", "make_parents", "acl", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    SEQUENTIAL_FIELD_NUMBER: _ClassVar[int]
    MAKE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    ephemeral: bool
    sequential: bool
    make_parents: bool
    acl: _containers.RepeatedCompositeFieldContainer[ACL]
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ..., ephemeral: _Optional[bool] = ..., sequential: _Optional[bool] = ..., make_parents: _Optional[bool] = ..., acl: _Optional[_Iterable[_Union[ACL, _Mapping]]] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class CreateResponse(_message.Message):
    __slots__ = ("path", "stat", "zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    stat: Stat
    zxid: int
    def __init__(self, path: _Optional[str] = ..., stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("path", "version", "recursive", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    version: int
    recursive: bool
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., version: _Optional[int] = ..., recursive: _Optional[bool] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("zxid",)
    ZXID_FIELD_NUMBER: _ClassVar[int]
    zxid: int
    def __init__(self, zxid: _Optional[int] = ...) -> None: ...

class SetDataRequest(_message.Message):
    __slots__ = ("path", "data", "version", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    version: int
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ..., version: _Optional[int] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class SetDataResponse(_message.Message):
    __slots__ = ("stat", "zxid")
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    stat: Stat
    zxid: int
    def __init__(self, stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("path", "version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    version: int
    def __init__(self, path: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDataRequest(_message.Message):
    __slots__ = ("path", "watch", "session", "min_zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WATCH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MIN_ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    watch: bool
    session: SessionRef
    min_zxid: int
    def __init__(self, path: _Optional[str] = ..., watch: _Optional[bool] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ..., min_zxid: _Optional[int] = ...) -> None: ...

class GetDataResponse(_message.Message):
    __slots__ = ("data", "stat", "zxid")
    DATA_FIELD_NUMBER: _ClassVar[int]
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    stat: Stat
    zxid: int
    def __init__(self, data: _Optional[bytes] = ..., stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class ExistsRequest(_message.Message):
    __slots__ = ("path", "watch", "session", "min_zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WATCH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MIN_ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    watch: bool
    session: SessionRef
    min_zxid: int
    def __init__(self, path: _Optional[str] = ..., watch: _Optional[bool] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ..., min_zxid: _Optional[int] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("stat", "zxid")
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    stat: Stat
    zxid: int
    def __init__(self, stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class GetChildrenRequest(_message.Message):
    __slots__ = ("path", "watch", "session", "min_zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WATCH_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MIN_ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    watch: bool
    session: SessionRef
    min_zxid: int
    def __init__(self, path: _Optional[str] = ..., watch: _Optional[bool] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ..., min_zxid: _Optional[int] = ...) -> None: ...

class GetChildrenResponse(_message.Message):
    __slots__ = ("children", "stat", "zxid")
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    STAT_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    children: _containers.RepeatedScalarFieldContainer[str]
    stat: Stat
    zxid: int
    def __init__(self, children: _Optional[_Iterable[str]] = ..., stat: _Optional[_Union[Stat, _Mapping]] = ..., zxid: _Optional[int] = ...) -> None: ...

class Op(_message.Message):
    __slots__ = ("create", "delete", "set_data", "check")
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_DATA_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    create: CreateRequest
    delete: DeleteRequest
    set_data: SetDataRequest
    check: CheckRequest
    def __init__(self, create: _Optional[_Union[CreateRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteRequest, _Mapping]] = ..., set_data: _Optional[_Union[SetDataRequest, _Mapping]] = ..., check: _Optional[_Union[CheckRequest, _Mapping]] = ...) -> None: ...

class OpResult(_message.Message):
    __slots__ = ("create", "delete", "set_data", "check", "error")
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_DATA_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    create: CreateResponse
    delete: DeleteResponse
    set_data: SetDataResponse
    check: CheckResponse
    error: Error
    def __init__(self, create: _Optional[_Union[CreateResponse, _Mapping]] = ..., delete: _Optional[_Union[DeleteResponse, _Mapping]] = ..., set_data: _Optional[_Union[SetDataResponse, _Mapping]] = ..., check: _Optional[_Union[CheckResponse, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class MultiRequest(_message.Message):
    __slots__ = ("ops", "session")
    OPS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ops: _containers.RepeatedCompositeFieldContainer[Op]
    session: SessionRef
    def __init__(self, ops: _Optional[_Iterable[_Union[Op, _Mapping]]] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class MultiResponse(_message.Message):
    __slots__ = ("results", "zxid")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[OpResult]
    zxid: int
    def __init__(self, results: _Optional[_Iterable[_Union[OpResult, _Mapping]]] = ..., zxid: _Optional[int] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class SyncResponse(_message.Message):
    __slots__ = ("path", "zxid")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    path: str
    zxid: int
    def __init__(self, path: _Optional[str] = ..., zxid: _Optional[int] = ...) -> None: ...

class AddWatchRequest(_message.Message):
    __slots__ = ("path", "mode", "session")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: WatchMode
    session: SessionRef
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[_Union[WatchMode, str]] = ..., session: _Optional[_Union[SessionRef, _Mapping]] = ...) -> None: ...

class AddWatchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchRegistration(_message.Message):
    __slots__ = ("path", "kind")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: WatchKind
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[WatchKind, str]] = ...) -> None: ...

class RemoveWatchRequest(_message.Message):
    __slots__ = ("path", "kind")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: WatchKind
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[WatchKind, str]] = ...) -> None: ...

class RemoveWatchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("type", "path", "zxid")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    path: str
    zxid: int
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., path: _Optional[str] = ..., zxid: _Optional[int] = ...) -> None: ...

class OpenSessionRequest(_message.Message):
    __slots__ = ("timeout_ms",)
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    timeout_ms: int
    def __init__(self, timeout_ms: _Optional[int] = ...) -> None: ...

class OpenSessionResponse(_message.Message):
    __slots__ = ("session_id", "password", "timeout_ms", "zxid")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    password: bytes
    timeout_ms: int
    zxid: int
    def __init__(self, session_id: _Optional[int] = ..., password: _Optional[bytes] = ..., timeout_ms: _Optional[int] = ..., zxid: _Optional[int] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ("zxid",)
    ZXID_FIELD_NUMBER: _ClassVar[int]
    zxid: int
    def __init__(self, zxid: _Optional[int] = ...) -> None: ...

class KeepAliveResponse(_message.Message):
    __slots__ = ("timeout_ms",)
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    timeout_ms: int
    def __init__(self, timeout_ms: _Optional[int] = ...) -> None: ...

class Connect(_message.Message):
    __slots__ = ("session_id", "password", "timeout_ms", "last_zxid", "watches")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ZXID_FIELD_NUMBER: _ClassVar[int]
    WATCHES_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    password: bytes
    timeout_ms: int
    last_zxid: int
    watches: _containers.RepeatedCompositeFieldContainer[WatchRegistration]
    def __init__(self, session_id: _Optional[int] = ..., password: _Optional[bytes] = ..., timeout_ms: _Optional[int] = ..., last_zxid: _Optional[int] = ..., watches: _Optional[_Iterable[_Union[WatchRegistration, _Mapping]]] = ...) -> None: ...

class Connected(_message.Message):
    __slots__ = ("session_id", "password", "timeout_ms", "zxid", "member_id", "max_request_bytes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    password: bytes
    timeout_ms: int
    zxid: int
    member_id: int
    max_request_bytes: int
    def __init__(self, session_id: _Optional[int] = ..., password: _Optional[bytes] = ..., timeout_ms: _Optional[int] = ..., zxid: _Optional[int] = ..., member_id: _Optional[int] = ..., max_request_bytes: _Optional[int] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("xid", "create", "delete", "set_data", "get_data", "exists", "get_children", "multi", "sync", "add_watch", "remove_watch", "check", "auth", "get_acl", "set_acl", "set_quota", "get_quota", "delete_quota")
    XID_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_DATA_FIELD_NUMBER: _ClassVar[int]
    GET_DATA_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    GET_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    MULTI_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    ADD_WATCH_FIELD_NUMBER: _ClassVar[int]
    REMOVE_WATCH_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    GET_ACL_FIELD_NUMBER: _ClassVar[int]
    SET_ACL_FIELD_NUMBER: _ClassVar[int]
    SET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    GET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    DELETE_QUOTA_FIELD_NUMBER: _ClassVar[int]
    xid: int
    create: CreateRequest
    delete: DeleteRequest
    set_data: SetDataRequest
    get_data: GetDataRequest
    exists: ExistsRequest
    get_children: GetChildrenRequest
    multi: MultiRequest
    sync: SyncRequest
    add_watch: AddWatchRequest
    remove_watch: RemoveWatchRequest
    check: CheckRequest
    auth: AuthRequest
    get_acl: GetAclRequest
    set_acl: SetAclRequest
    set_quota: SetQuotaRequest
    get_quota: GetQuotaRequest
    delete_quota: DeleteQuotaRequest
    def __init__(self, xid: _Optional[int] = ..., create: _Optional[_Union[CreateRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteRequest, _Mapping]] = ..., set_data: _Optional[_Union[SetDataRequest, _Mapping]] = ..., get_data: _Optional[_Union[GetDataRequest, _Mapping]] = ..., exists: _Optional[_Union[ExistsRequest, _Mapping]] = ..., get_children: _Optional[_Union[GetChildrenRequest, _Mapping]] = ..., multi: _Optional[_Union[MultiRequest, _Mapping]] = ..., sync: _Optional[_Union[SyncRequest, _Mapping]] = ..., add_watch: _Optional[_Union[AddWatchRequest, _Mapping]] = ..., remove_watch: _Optional[_Union[RemoveWatchRequest, _Mapping]] = ..., check: _Optional[_Union[CheckRequest, _Mapping]] = ..., auth: _Optional[_Union[AuthRequest, _Mapping]] = ..., get_acl: _Optional[_Union[GetAclRequest, _Mapping]] = ..., set_acl: _Optional[_Union[SetAclRequest, _Mapping]] = ..., set_quota: _Optional[_Union[SetQuotaRequest, _Mapping]] = ..., get_quota: _Optional[_Union[GetQuotaRequest, _Mapping]] = ..., delete_quota: _Optional[_Union[DeleteQuotaRequest, _Mapping]] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("xid", "zxid", "error", "create", "delete", "set_data", "get_data", "exists", "get_children", "multi", "sync", "add_watch", "remove_watch", "check", "auth", "get_acl", "set_acl", "set_quota", "get_quota", "delete_quota")
    XID_FIELD_NUMBER: _ClassVar[int]
    ZXID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_DATA_FIELD_NUMBER: _ClassVar[int]
    GET_DATA_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    GET_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    MULTI_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    ADD_WATCH_FIELD_NUMBER: _ClassVar[int]
    REMOVE_WATCH_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    GET_ACL_FIELD_NUMBER: _ClassVar[int]
    SET_ACL_FIELD_NUMBER: _ClassVar[int]
    SET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    GET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    DELETE_QUOTA_FIELD_NUMBER: _ClassVar[int]
    xid: int
    zxid: int
    error: Error
    create: CreateResponse
    delete: DeleteResponse
    set_data: SetDataResponse
    get_data: GetDataResponse
    exists: ExistsResponse
    get_children: GetChildrenResponse
    multi: MultiResponse
    sync: SyncResponse
    add_watch: AddWatchResponse
    remove_watch: RemoveWatchResponse
    check: CheckResponse
    auth: AuthResponse
    get_acl: GetAclResponse
    set_acl: SetAclResponse
    set_quota: SetQuotaResponse
    get_quota: GetQuotaResponse
    delete_quota: DeleteQuotaResponse
    def __init__(self, xid: _Optional[int] = ..., zxid: _Optional[int] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., create: _Optional[_Union[CreateResponse, _Mapping]] = ..., delete: _Optional[_Union[DeleteResponse, _Mapping]] = ..., set_data: _Optional[_Union[SetDataResponse, _Mapping]] = ..., get_data: _Optional[_Union[GetDataResponse, _Mapping]] = ..., exists: _Optional[_Union[ExistsResponse, _Mapping]] = ..., get_children: _Optional[_Union[GetChildrenResponse, _Mapping]] = ..., multi: _Optional[_Union[MultiResponse, _Mapping]] = ..., sync: _Optional[_Union[SyncResponse, _Mapping]] = ..., add_watch: _Optional[_Union[AddWatchResponse, _Mapping]] = ..., remove_watch: _Optional[_Union[RemoveWatchResponse, _Mapping]] = ..., check: _Optional[_Union[CheckResponse, _Mapping]] = ..., auth: _Optional[_Union[AuthResponse, _Mapping]] = ..., get_acl: _Optional[_Union[GetAclResponse, _Mapping]] = ..., set_acl: _Optional[_Union[SetAclResponse, _Mapping]] = ..., set_quota: _Optional[_Union[SetQuotaResponse, _Mapping]] = ..., get_quota: _Optional[_Union[GetQuotaResponse, _Mapping]] = ..., delete_quota: _Optional[_Union[DeleteQuotaResponse, _Mapping]] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Pong(_message.Message):
    __slots__ = ("zxid",)
    ZXID_FIELD_NUMBER: _ClassVar[int]
    zxid: int
    def __init__(self, zxid: _Optional[int] = ...) -> None: ...

class Close(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Closed(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClientMessage(_message.Message):
    __slots__ = ("connect", "request", "ping", "close")
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    connect: Connect
    request: Request
    ping: Ping
    close: Close
    def __init__(self, connect: _Optional[_Union[Connect, _Mapping]] = ..., request: _Optional[_Union[Request, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., close: _Optional[_Union[Close, _Mapping]] = ...) -> None: ...

class ServerMessage(_message.Message):
    __slots__ = ("connected", "response", "event", "pong", "closed", "session_error")
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    SESSION_ERROR_FIELD_NUMBER: _ClassVar[int]
    connected: Connected
    response: Response
    event: WatchEvent
    pong: Pong
    closed: Closed
    session_error: Error
    def __init__(self, connected: _Optional[_Union[Connected, _Mapping]] = ..., response: _Optional[_Union[Response, _Mapping]] = ..., event: _Optional[_Union[WatchEvent, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., closed: _Optional[_Union[Closed, _Mapping]] = ..., session_error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class ClientFrame(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ClientMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[ClientMessage, _Mapping]]] = ...) -> None: ...

class ServerFrame(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ServerMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[ServerMessage, _Mapping]]] = ...) -> None: ...

class SessionPortRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SessionPortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: int
    def __init__(self, port: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("local_only",)
    LOCAL_ONLY_FIELD_NUMBER: _ClassVar[int]
    local_only: bool
    def __init__(self, local_only: _Optional[bool] = ...) -> None: ...

class MemberStatus(_message.Message):
    __slots__ = ("id", "address", "role", "leader_ballot", "committed_zxid", "applied_zxid", "sessions", "znodes", "committed_slot", "applied_slot", "leader", "requests", "client_frames_in", "client_frames_out", "peer_frames_in", "peer_frames_out", "slots_applied", "commands_applied", "disk_syncs", "most_in_flight", "unread_streams_cut")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    LEADER_BALLOT_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_ZXID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_ZXID_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    ZNODES_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_SLOT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SLOT_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FRAMES_IN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FRAMES_OUT_FIELD_NUMBER: _ClassVar[int]
    PEER_FRAMES_IN_FIELD_NUMBER: _ClassVar[int]
    PEER_FRAMES_OUT_FIELD_NUMBER: _ClassVar[int]
    SLOTS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    DISK_SYNCS_FIELD_NUMBER: _ClassVar[int]
    MOST_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    UNREAD_STREAMS_CUT_FIELD_NUMBER: _ClassVar[int]
    id: int
    address: str
    role: str
    leader_ballot: str
    committed_zxid: int
    applied_zxid: int
    sessions: int
    znodes: int
    committed_slot: int
    applied_slot: int
    leader: int
    requests: int
    client_frames_in: int
    client_frames_out: int
    peer_frames_in: int
    peer_frames_out: int
    slots_applied: int
    commands_applied: int
    disk_syncs: int
    most_in_flight: int
    unread_streams_cut: int
    def __init__(self, id: _Optional[int] = ..., address: _Optional[str] = ..., role: _Optional[str] = ..., leader_ballot: _Optional[str] = ..., committed_zxid: _Optional[int] = ..., applied_zxid: _Optional[int] = ..., sessions: _Optional[int] = ..., znodes: _Optional[int] = ..., committed_slot: _Optional[int] = ..., applied_slot: _Optional[int] = ..., leader: _Optional[int] = ..., requests: _Optional[int] = ..., client_frames_in: _Optional[int] = ..., client_frames_out: _Optional[int] = ..., peer_frames_in: _Optional[int] = ..., peer_frames_out: _Optional[int] = ..., slots_applied: _Optional[int] = ..., commands_applied: _Optional[int] = ..., disk_syncs: _Optional[int] = ..., most_in_flight: _Optional[int] = ..., unread_streams_cut: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MemberStatus]
    def __init__(self, members: _Optional[_Iterable[_Union[MemberStatus, _Mapping]]] = ...) -> None: ...
