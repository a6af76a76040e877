"""Jute, ZooKeeper's record encoding: big-endian ints and longs, a boolean
as one byte, strings and buffers as an int length (-1: null) and that many
bytes, vectors as an int count and that many items.

Reading is bounded by the bytes at hand: a length past the end, a negative
one other than -1 or a string that is not UTF-8 raises JuteError, which
names what was wrong; nothing is allocated beyond the frame read."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_BOOL = struct.Struct(">?")

T = TypeVar("T")


class JuteError(Exception):
    """Bytes that are not the record expected; the message says where."""


class Reader:
    """Reads records from one frame's bytes, front to back."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._at

    def _take(self, count: int, what: str) -> memoryview:
        if count > self.remaining:
            raise JuteError(f"{what} of {count} bytes runs past the end of the frame")
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def int(self, what: str = "an int") -> int:
        return _INT.unpack(self._take(4, what))[0]

    def long(self, what: str = "a long") -> int:
        return _LONG.unpack(self._take(8, what))[0]

    def bool(self, what: str = "a boolean") -> bool:
        return _BOOL.unpack(self._take(1, what))[0]

    def buffer(self, what: str = "a buffer") -> bytes | None:
        length = self.int(what)
        if length == -1:
            return None
        if length < 0:
            raise JuteError(f"{what} of negative length {length}")
        return bytes(self._take(length, what))

    def string(self, what: str = "a string") -> str | None:
        raw = self.buffer(what)
        if raw is None:
            return None
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise JuteError(f"{what} that is not UTF-8") from None

    def vector(self, item: Callable[[], T], what: str = "a vector") -> list[T] | None:
        count = self.int(what)
        if count == -1:
            return None
        # Each item takes a byte at least: a count past the bytes left is a lie.
        if count < 0 or count > self.remaining:
            raise JuteError(f"{what} of {count} items in {self.remaining} bytes")
        return [item() for _ in range(count)]

    def end(self, what: str) -> None:
        """The record is complete: bytes after it are an error."""
        if self.remaining:
            raise JuteError(f"{self.remaining} bytes after {what}")


class Writer:
    """Builds one frame's body."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def int(self, value: int) -> Writer:
        self._parts.append(_INT.pack(value))
        return self

    def long(self, value: int) -> Writer:
        self._parts.append(_LONG.pack(value))
        return self

    def bool(self, value: bool) -> Writer:
        self._parts.append(_BOOL.pack(value))
        return self

    def buffer(self, value: bytes | None) -> Writer:
        if value is None:
            return self.int(-1)
        self._parts.append(_INT.pack(len(value)))
        self._parts.append(value)
        return self

    def string(self, value: str | None) -> Writer:
        return self.buffer(None if value is None else value.encode())

    def frame(self) -> bytes:
        """The body with its 4-byte length in front, as it goes on the wire."""
        body = b"".join(self._parts)
        return _INT.pack(len(body)) + body
