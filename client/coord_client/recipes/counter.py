"""`Counter`: a shared number changed by compare-and-set on the znode version.

`counter += 5` reads (value, version), writes the sum with that version, and
repeats from the read when another writer got in first (BadVersionError).
Reads are repeated after a connection loss; the conditional write is not: a
write whose outcome is unknown may have counted, so that ConnectionLoss
reaches the caller (with this SDK it only comes when the session is gone).
"""

from __future__ import annotations

from typing import Any

from coord_api.paths import validate_path
from coord_client.exceptions import BadVersionError
from coord_client.recipes.drive_asyncio import ASYNCIO
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.steps import Steps, call, create_once, once, operation

Number = int | float


class Counter(Recipe):
    """kazoo's Counter: `counter += 5`, `counter.value`; the value is stored
    as ASCII (`repr` of an int or float)."""

    def __init__(self, client: Any, path: str, default: Number = 0) -> None:
        self.client = client
        self.path = validate_path(path)
        self.default = default
        self.default_type = type(default)
        self.pre_value: Number | None = None  # before our last change
        self.post_value: Number | None = None  # after it
        self._ensured = False

    @property
    def value(self) -> Number:
        return self.driver.run(self.client, self._read())[0]

    def __add__(self, value: Number) -> Counter:
        """Add `value` (kazoo's `counter += value`)."""
        return self.add(value)

    def __sub__(self, value: Number) -> Counter:
        return self.add(-value)

    @operation
    def add(self, value: Number) -> Steps[Counter]:
        """Add `value`; repeated from the read when another writer got in first."""
        if not isinstance(value, self.default_type):
            raise TypeError(f"invalid type for value change: {type(value).__name__}")
        while True:
            pre_value, version = yield from self._read()
            post_value = pre_value + value
            try:
                yield once("set", self.path, repr(post_value).encode("ascii"), version=version)
            except BadVersionError:
                continue  # another writer got in first
            self.pre_value, self.post_value = pre_value, post_value
            return self

    @operation
    def subtract(self, value: Number) -> Steps[Counter]:
        """Subtract `value` (kazoo's `counter -= value`)."""
        return (yield from self.add.steps(-value))

    def _read(self) -> Steps[tuple[Number, int]]:
        if not self._ensured:
            yield from create_once(self.path, makepath=True)
            self._ensured = True
        data, stat = yield call("get", self.path)
        decoded = self.default_type(data.decode("ascii")) if data else self.default
        return decoded, stat.version


class AsyncCounter(Counter):
    """The Counter of the asyncio client: `await counter.add(5)`, `await
    counter.value()` (`+=` and a property cannot await)."""

    driver = ASYNCIO

    @operation
    def value(self) -> Steps[Number]:  # type: ignore[override]
        """The value now."""
        return (yield from self._read())[0]

    def __add__(self, value: Number) -> Counter:
        raise TypeError("the asyncio Counter adds with `await counter.add(value)`")

    __sub__ = __add__
