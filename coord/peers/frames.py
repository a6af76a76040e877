"""How a replication link frames its messages: a 4-byte big-endian length,
then that many bytes of one protobuf message. Bounded on the way in: a
length over the limit ends the link before anything is read into memory."""

from __future__ import annotations

import asyncio
import struct
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

LENGTH = struct.Struct(">I")
MAX_HELLO_BYTES = 4096  # a LinkHello or LinkWelcome
MAX_FRAME_BYTES = 64 << 20  # a PeerFrame: as large as a Peer gRPC message may be


M = TypeVar("M", bound=Message)


class FrameError(Exception):
    """The other end sent what is not a frame of ours; the message says what."""


def frame(message: Message) -> bytes:
    body = message.SerializeToString()
    return LENGTH.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader, kind: type[M], limit: int) -> M:
    """The next frame, decoded as `kind`. IncompleteReadError at the end of
    the stream (cleanly between frames or not)."""
    (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    if length > limit:
        raise FrameError(f"a frame of {length} bytes, over the limit of {limit}")
    body = await reader.readexactly(length)
    try:
        return kind.FromString(body)
    except DecodeError:
        raise FrameError(f"a frame that is not a {kind.__name__}") from None
