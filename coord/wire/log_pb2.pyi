from coord_api.wire import client_pb2 as _client_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OpenSession(_message.Message):
    __slots__ = ("timeout_ms", "password")
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    timeout_ms: int
    password: bytes
    def __init__(self, timeout_ms: _Optional[int] = ..., password: _Optional[bytes] = ...) -> None: ...

class CloseSession(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExpireSession(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Command(_message.Message):
    __slots__ = ("session_id", "xid", "origin_member", "origin_request", "prev_xid", "auth", "create", "delete", "set_data", "multi", "open_session", "close_session", "expire_session", "check", "set_acl", "set_quota", "delete_quota")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    XID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_MEMBER_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PREV_XID_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_DATA_FIELD_NUMBER: _ClassVar[int]
    MULTI_FIELD_NUMBER: _ClassVar[int]
    OPEN_SESSION_FIELD_NUMBER: _ClassVar[int]
    CLOSE_SESSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_SESSION_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    SET_ACL_FIELD_NUMBER: _ClassVar[int]
    SET_QUOTA_FIELD_NUMBER: _ClassVar[int]
    DELETE_QUOTA_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    xid: int
    origin_member: int
    origin_request: int
    prev_xid: int
    auth: _containers.RepeatedCompositeFieldContainer[_client_pb2.Id]
    create: _client_pb2.CreateRequest
    delete: _client_pb2.DeleteRequest
    set_data: _client_pb2.SetDataRequest
    multi: _client_pb2.MultiRequest
    open_session: OpenSession
    close_session: CloseSession
    expire_session: ExpireSession
    check: _client_pb2.CheckRequest
    set_acl: _client_pb2.SetAclRequest
    set_quota: _client_pb2.SetQuotaRequest
    delete_quota: _client_pb2.DeleteQuotaRequest
    def __init__(self, session_id: _Optional[int] = ..., xid: _Optional[int] = ..., origin_member: _Optional[int] = ..., origin_request: _Optional[int] = ..., prev_xid: _Optional[int] = ..., auth: _Optional[_Iterable[_Union[_client_pb2.Id, _Mapping]]] = ..., create: _Optional[_Union[_client_pb2.CreateRequest, _Mapping]] = ..., delete: _Optional[_Union[_client_pb2.DeleteRequest, _Mapping]] = ..., set_data: _Optional[_Union[_client_pb2.SetDataRequest, _Mapping]] = ..., multi: _Optional[_Union[_client_pb2.MultiRequest, _Mapping]] = ..., open_session: _Optional[_Union[OpenSession, _Mapping]] = ..., close_session: _Optional[_Union[CloseSession, _Mapping]] = ..., expire_session: _Optional[_Union[ExpireSession, _Mapping]] = ..., check: _Optional[_Union[_client_pb2.CheckRequest, _Mapping]] = ..., set_acl: _Optional[_Union[_client_pb2.SetAclRequest, _Mapping]] = ..., set_quota: _Optional[_Union[_client_pb2.SetQuotaRequest, _Mapping]] = ..., delete_quota: _Optional[_Union[_client_pb2.DeleteQuotaRequest, _Mapping]] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("time_ms", "commands")
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, time_ms: _Optional[int] = ..., commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...
