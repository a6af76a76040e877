"""The edge of the wire: errors as gRPC statuses with a reason, requests
that do not decode, and handlers that end quietly when the member stops.

Every refusal is a gRPC status whose details start with the ErrorCode name
(``NO_NODE: no node /a``) and whose trailing metadata carries it as
``coord-error``: machine-readable, never a bare UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import NoReturn

import grpc
from google.protobuf import descriptor as _descriptor
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from coord_api.wire import client_pb2 as pb

STATUS_OF = {
    pb.NO_NODE: grpc.StatusCode.NOT_FOUND,
    pb.NODE_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    pb.BAD_VERSION: grpc.StatusCode.FAILED_PRECONDITION,
    pb.NOT_EMPTY: grpc.StatusCode.FAILED_PRECONDITION,
    pb.NO_CHILDREN_FOR_EPHEMERALS: grpc.StatusCode.FAILED_PRECONDITION,
    pb.BAD_ARGUMENTS: grpc.StatusCode.INVALID_ARGUMENT,
    pb.DATA_TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    pb.SESSION_EXPIRED: grpc.StatusCode.UNAUTHENTICATED,
    pb.NO_AUTH: grpc.StatusCode.PERMISSION_DENIED,
    pb.AUTH_FAILED: grpc.StatusCode.UNAUTHENTICATED,
    pb.NOT_READY: grpc.StatusCode.UNAVAILABLE,
    pb.CONNECTION_LOSS: grpc.StatusCode.UNAVAILABLE,
    pb.NOT_READ_ONLY: grpc.StatusCode.UNAVAILABLE,
    pb.OPERATION_TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    pb.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    pb.NO_AUTH: grpc.StatusCode.PERMISSION_DENIED,
    pb.AUTH_FAILED: grpc.StatusCode.UNAUTHENTICATED,
    pb.INVALID_ACL: grpc.StatusCode.INVALID_ARGUMENT,
    pb.QUOTA_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    pb.LIMIT_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


async def abort(context: grpc.aio.ServicerContext, error: pb.Error) -> NoReturn:
    reason = pb.ErrorCode.Name(error.code)
    await context.abort(
        STATUS_OF.get(error.code, grpc.StatusCode.FAILED_PRECONDITION),
        f"{reason}: {error.message}",
        trailing_metadata=(("coord-error", reason),),
    )


class Malformed:
    """Stands in for a request whose bytes did not decode, so the handler
    can refuse it with a reason instead of gRPC answering UNKNOWN."""

    def __init__(self, type_name: str, problem: str) -> None:
        self.error = pb.Error(
            code=pb.BAD_ARGUMENTS, message=f"undecodable {type_name}: {problem or 'bad bytes'}"
        )


class Oversized(Malformed):
    """Stands in for a request over --max-request-bytes, refused unread."""

    def __init__(self, type_name: str, size: int, limit: int) -> None:
        self.error = pb.Error(
            code=pb.LIMIT_EXCEEDED,
            message=f"a {type_name} of {size} bytes is over the limit"
            f" (--max-request-bytes {limit})",
        )


def _decoder(message_class, max_bytes: int | None) -> Callable[[bytes], object]:
    name = message_class.DESCRIPTOR.name

    def decode(raw: bytes):
        if max_bytes is not None and len(raw) > max_bytes:
            return Oversized(name, len(raw), max_bytes)
        try:
            return message_class.FromString(raw)
        except DecodeError as err:
            return Malformed(name, str(err))

    return decode


def _refusing_malformed(handler: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
    async def guarded(request, context):
        if isinstance(request, Malformed):
            await abort(context, request.error)
        return await handler(request, context)

    return guarded


def add_service(
    server: grpc.aio.Server,
    servicer: object,
    service: _descriptor.ServiceDescriptor,
    max_request_bytes: int | None = None,
) -> None:
    """Register every method of `service`, as the generated code would,
    but with decoders that never fail (and refuse requests over
    `max_request_bytes`, when given)."""
    handlers = {}
    for method in service.methods:
        implementation = getattr(servicer, method.name)
        decode = _decoder(GetMessageClass(method.input_type), max_request_bytes)
        encode = GetMessageClass(method.output_type).SerializeToString
        if method.client_streaming and method.server_streaming:
            make = grpc.stream_stream_rpc_method_handler
        elif method.client_streaming:
            make = grpc.stream_unary_rpc_method_handler
        else:
            implementation = _refusing_malformed(implementation)
            make = (
                grpc.unary_stream_rpc_method_handler
                if method.server_streaming
                else grpc.unary_unary_rpc_method_handler
            )
        handlers[method.name] = make(
            implementation, request_deserializer=decode, response_serializer=encode
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )


async def unless_cut(
    work: Awaitable,
    cut: asyncio.Event,
    context: grpc.aio.ServicerContext,
    why: Callable[[], pb.Error],
) -> None:
    """Run a call's writing until it ends, or until `cut` is set: then it is
    cancelled where it waits (a write to a client that does not read never
    completes) and the call ends with the status `why()` gives."""
    task = asyncio.ensure_future(work)
    cutting = asyncio.ensure_future(cut.wait())
    try:
        await asyncio.wait({task, cutting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cutting.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if cut.is_set():
        await abort(context, why())
    await task  # its own end, or its exception


async def until_stopped(
    work: Awaitable, stopping: asyncio.Event, context: grpc.aio.ServicerContext | None = None
) -> None:
    """Run a long-lived call until it ends or the member stops; stopping
    ends it quietly instead of having gRPC cancel it mid-flight.

    A call that streams answers (give its `context`) sends its headers
    first. gRPC marks them sent only when the write that carries them
    completes, so if stopping cut off the first write, the status sent next
    would carry them again and fail (GRPC_CALL_ERROR_TOO_MANY_OPERATIONS);
    a later write cut off is harmless: the status queues behind it."""
    if context is not None:
        await context.send_initial_metadata(())
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
