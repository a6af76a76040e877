"""`Counter`: a shared number changed by compare-and-set on the znode version.

`counter += 5` reads (value, version), writes the sum with that version, and
repeats from the read when another writer got in first (BadVersionError).
Reads are repeated after a connection loss; the conditional write is not: a
write whose outcome is unknown may have counted, so that ConnectionLoss
reaches the caller (with this SDK it only comes when the session is gone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coord_client.exceptions import BadVersionError
from coord_client.paths import validate_path
from coord_client.recipes.nodes import create_once
from coord_client.recipes.waiting import retrying

if TYPE_CHECKING:
    from coord_client.client import Client

Number = int | float


class CounterState:
    """What a counter knows, whichever way it reads (shared with asyncio): the
    value is stored as ASCII (`repr` of an int or float)."""

    def __init__(self, client: Any, path: str, default: Number = 0) -> None:
        self.client = client
        self.path = validate_path(path)
        self.default = default
        self.default_type = type(default)
        self.pre_value: Number | None = None  # before our last change
        self.post_value: Number | None = None  # after it
        self._ensured = False

    def _checked(self, value: Number) -> Number:
        if not isinstance(value, self.default_type):
            raise TypeError(f"invalid type for value change: {type(value).__name__}")
        return value

    def _decoded(self, data: bytes) -> Number:
        return self.default_type(data.decode("ascii")) if data else self.default


class Counter(CounterState):
    """kazoo's Counter: `counter += 5`, `counter.value`."""

    client: Client

    @property
    def value(self) -> Number:
        return self._read()[0]

    def __add__(self, value: Number) -> Counter:
        """Add `value` (kazoo's `counter += value`)."""
        return self._change(value)

    def __sub__(self, value: Number) -> Counter:
        return self._change(-value)

    def _change(self, value: Number) -> Counter:
        self._checked(value)
        while True:
            pre_value, version = self._read()
            post_value = pre_value + value
            try:
                self.client.set(self.path, repr(post_value).encode("ascii"), version=version)
            except BadVersionError:
                continue  # another writer got in first
            self.pre_value, self.post_value = pre_value, post_value
            return self

    def _read(self) -> tuple[Number, int]:
        if not self._ensured:
            create_once(self.client, self.path, makepath=True)
            self._ensured = True
        data, stat = retrying(self.client, lambda: self.client.get(self.path))
        return self._decoded(data), stat.version
