"""`Config`: configuration management, a live read-only mapping of the
children of `path`.

Every update made through Config is ONE transaction that writes all its keys
and sets the data of `path` itself, whose version is the view's `.version`
(the data holds the same count, for people reading the tree). Given the
version the caller saw, the transaction checks it, so an update based on a
stale view fails with BadVersionError and changes nothing.

The view follows one persistent recursive watch on `path`. On each change it
reads `path`, its children and their data again, and shows the result only
when it is one state of the tree: every node read was last changed at or
before the event's zxid, and reads made after an event reflect at least that
zxid (sequential consistency), so nothing changed between the event and the
reads. When a read shows a later change, that change's own event follows
and the view waits for it. A reader so never sees half of an update.

With the asyncio client, `config = await client.Config(path, codec)` loads
the view and sets the watch when the await returns; `update` and `close`
are coroutines, and `on_change` callbacks may be coroutine functions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from coord_api.paths import join, parent, validate_path
from coord_client.events import WatchedEvent
from coord_client.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
)
from coord_client.recipes.steps import (
    Commit,
    Gather,
    Steps,
    create_once,
    once,
    operation,
    transaction_error,
)
from coord_client.recipes.subtree import GONE, Following
from coord_client.stat import ZnodeStat

log = logging.getLogger("coord_client.recipes.config")

OnChange = Callable[[dict[str, Any]], Any]


class Codec(Protocol):
    """What Config needs of a codec; the `json` module is one."""

    def loads(self, data: bytes) -> Any: ...

    def dumps(self, value: Any) -> str | bytes: ...


@dataclass(frozen=True)
class Snapshot:
    version: int  # the data version of `path`
    raw: dict[str, bytes]
    top: int  # the newest change any of the reads reflected
    complete: bool  # no child vanished between the listing and its read


class Config(Following, Mapping[str, Any]):
    """Name -> bytes (or `codec.loads(bytes)`) for the children of `path`."""

    def __init__(self, client: Any, path: str, codec: Codec | None = None) -> None:
        self.client = client
        self.path = validate_path(path)
        self._codec = codec
        self._values: dict[str, Any] = {}
        self._version = 0
        self._seen = 0  # every change up to this zxid is in the view
        self._callbacks: list[OnChange] = []
        self._follow(self.path)
        self._started: Any = None  # the load (a task, asyncio)
        if not self.driver.asynchronous:
            self.driver.run(client, self._start())

    def __await__(self) -> Generator[Any, None, Config]:
        """Load the view and start following the tree (once; asyncio)."""
        if not self.driver.asynchronous:
            raise TypeError("only the asyncio Config is awaited")
        if self._started is None:
            self._started = self.driver.start(self.client, self._start())
        yield from self._started.__await__()
        return self

    def _start(self) -> Steps[None]:
        yield from create_once(self.path, b"0", makepath=True)
        yield from self._start_following(self._refresh(None))

    @operation
    def close(self) -> Steps[None]:
        """Stop following the tree; the view keeps its last state."""
        yield from self._locked(self._stop_following())

    @operation
    def update(self, mapping: Mapping[str, Any], version: int | None = None) -> Steps[int]:
        """Write every key of `mapping` in one transaction (creating the missing
        ones); returns the new version. Given `version`, raises BadVersionError
        and changes nothing when the view has been updated since. A
        ConnectionLoss leaves the outcome unknown and is not repeated."""
        encoded = self._encoded(mapping)
        while True:
            names, stat = yield once("get_children", self.path, include_data=True)
            expected = version if version is not None else stat.version

            def fill(transaction: Any, names: list[str] = names, expected: int = expected) -> None:
                self._fill(transaction, encoded, names, expected)

            if self._applied((yield Commit(fill)), version):
                break
        yield from self._locked(self._refresh(None))  # so that this caller reads its own update
        return expected + 1

    def _changed(self, event: WatchedEvent) -> Steps[None]:
        if self._wanted(event):
            with contextlib.suppress(*GONE):
                yield from self._refresh(event.zxid)

    def _reload(self) -> Steps[None]:
        yield from self._refresh(None)

    def _refresh(self, bound: int | None) -> Steps[None]:
        """Read the tree; show it when it is the state at `bound` (the zxid of
        the event that asked). Without an event, the first read's newest change
        is the bound, and reads go on until one stays within it. While `path`
        does not exist (NoNodeError) the view keeps its last state."""
        snapshot = yield from self._read()
        if bound is not None:
            self._offer(snapshot, bound)
            return
        while (bound := self._unseen(snapshot)) is not None:
            snapshot = yield from self._read()
            if self._offer(snapshot, bound):
                return

    def _read(self) -> Steps[Snapshot]:
        names, stat = yield once("get_children", self.path, include_data=True)
        results = yield Gather(tuple(once("get", join(self.path, name)) for name in names))
        return snapshot_of(stat, dict(zip(names, results, strict=True)))

    @property
    def version(self) -> int:
        """Changes with every update made through Config (the data version of `path`)."""
        return self._version

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def on_change(self, callback: OnChange) -> OnChange:
        """Call `callback(mapping)` with the new mapping after every change
        (a decorator too). It runs on the thread that saw the change."""
        self._callbacks.append(callback)
        return callback

    def _encoded(self, mapping: Mapping[str, Any]) -> dict[str, bytes]:
        """The nodes and data an update of `mapping` writes."""
        return {self._key_path(key): self._encode(value) for key, value in mapping.items()}

    def _key_path(self, key: str) -> str:
        node = validate_path(join(self.path, key))
        if parent(node) != self.path:
            raise ValueError(f"a config key is one name, not a path: {key!r}")
        return node

    def _encode(self, value: Any) -> bytes:
        if self._codec is None:
            if not isinstance(value, bytes):
                raise TypeError("values must be bytes when Config has no codec")
            return value
        data = self._codec.dumps(value)
        return data.encode() if isinstance(data, str) else data

    def _fill(
        self, transaction: Any, encoded: dict[str, bytes], names: list[str], expected: int
    ) -> None:
        """The update's ops: set or create each key, then the version of `path`."""
        for node, data in encoded.items():
            if node.rpartition("/")[2] in names:
                transaction.set_data(node, data)
            else:
                transaction.create(node, data)
        transaction.set_data(self.path, str(expected + 1).encode(), version=expected)

    def _applied(self, results: list[object], version: int | None) -> bool:
        """Whether the update's transaction applied; False: read again and retry."""
        error = transaction_error(results)
        if error is None:
            return True
        if isinstance(error, BadVersionError) and version is not None:
            raise BadVersionError(f"{self.path} was updated since version {version}")
        if not isinstance(error, BadVersionError | NodeExistsError | NoNodeError):
            raise error
        return False  # another update, or a key made or removed meanwhile

    def _wanted(self, event: WatchedEvent) -> bool:
        """Whether an event may change the view (a key's, not already in it)."""
        if event.path != self.path and parent(event.path) != self.path:
            return False  # deeper than the keys
        return not self._closed and event.zxid > self._seen

    def _offer(self, snapshot: Snapshot, bound: int) -> bool:
        """Show `snapshot` when it is the tree's state at zxid `bound`."""
        if snapshot.complete and snapshot.top <= bound:
            self._publish(snapshot, bound)
            return True
        return False

    def _unseen(self, snapshot: Snapshot) -> int | None:
        """The bound to read up to when `snapshot` shows changes the view lacks."""
        return snapshot.top if snapshot.top > self._seen else None

    def _publish(self, snapshot: Snapshot, zxid: int) -> None:
        self._seen = max(self._seen, zxid)
        values = {}
        for name, data in sorted(snapshot.raw.items()):
            try:
                values[name] = self._codec.loads(data) if self._codec else data
            except ValueError:
                log.warning("config %s: cannot decode %r; left out", self.path, name)
        if (snapshot.version, values) == (self._version, self._values):
            return
        self._version, self._values = snapshot.version, values
        for callback in list(self._callbacks):
            self.driver.detach(callback(dict(values)))


def snapshot_of(stat: ZnodeStat, reads: dict[str, Any]) -> Snapshot:
    """The snapshot from `path`'s stat and each child's read ((data, stat), or
    NoNodeError when it went meanwhile)."""
    raw: dict[str, bytes] = {}
    top = max(stat.mzxid, stat.pzxid)
    for name, read in reads.items():
        if isinstance(read, NoNodeError):
            continue
        if isinstance(read, BaseException):
            raise read
        raw[name], child_stat = read
        top = max(top, child_stat.mzxid)
    return Snapshot(stat.version, raw, top, complete=len(raw) == len(reads))
