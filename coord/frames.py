"""Reading the length-prefixed frames of coord_api/frames.py on a door of
the member's own (a replication link, a session over plain TCP). Bounded
on the way in: a length over the limit ends the connection before anything
is read into memory."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from coord_api.frames import LENGTH, frame

__all__ = ["LENGTH", "FrameError", "FrameTooLarge", "frame", "read_frame"]

M = TypeVar("M", bound=Message)


class FrameError(Exception):
    """The other end sent what is not a frame of ours; the message says what."""


class FrameTooLarge(FrameError):
    """A frame's length is over the limit (nothing of it was read)."""


async def read_frame(reader: asyncio.StreamReader, kind: type[M], limit: int) -> M:
    """The next frame, decoded as `kind`. IncompleteReadError at the end of
    the stream (cleanly between frames or not)."""
    (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    if length > limit:
        raise FrameTooLarge(f"a frame of {length} bytes, over the limit of {limit}")
    body = await reader.readexactly(length)
    try:
        return kind.FromString(body)
    except DecodeError:
        raise FrameError(f"a frame that is not a {kind.__name__}") from None
