"""Length-prefixed frames, as a session over plain TCP (Coord.SessionPort)
and a replication link carry their protobuf messages: a 4-byte big-endian
length, then that many bytes of one message."""

from __future__ import annotations

import struct

from google.protobuf.message import Message

LENGTH = struct.Struct(">I")


def frame(message: Message) -> bytes:
    body = message.SerializeToString()
    return LENGTH.pack(len(body)) + body
