"""`Config`: configuration management, a live read-only mapping of the
children of `path` (SPEC §3).

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
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from coord_client.paths import join, parent, validate_path
from coord_client.recipes.nodes import create_once
from coord_client.recipes.steps import transaction_error
from coord_client.recipes.subtree import SubtreeWatch
from coord_client.stat import ZnodeStat

if TYPE_CHECKING:
    from coord_client.client import Client

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


class ConfigView(Mapping[str, Any]):
    """The view's state and rules, whichever way the tree is read: shared by
    this Config and the asyncio one."""

    def _init_view(self, path: str, codec: Codec | None) -> None:
        self.path = validate_path(path)
        self._codec = codec
        self._values: dict[str, Any] = {}
        self._version = 0
        self._seen = 0  # every change up to this zxid is in the view
        self._callbacks: list[OnChange] = []
        self._closed = False

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
            self._tell(callback, dict(values))

    def _tell(self, callback: OnChange, values: dict[str, Any]) -> None:
        callback(values)


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


class Config(ConfigView):
    """Name -> bytes (or `codec.loads(bytes)`) for the children of `path`."""

    def __init__(self, client: Client, path: str, codec: Codec | None = None) -> None:
        self._client = client
        self._init_view(path, codec)
        self._lock = threading.RLock()  # one refresh at a time; on_change may read the view
        self._watch = SubtreeWatch(client, self.path, self._on_event)
        create_once(client, self.path, b"0", makepath=True)
        client.add_listener(self._on_state)
        with self._lock:
            self._watch.arm()
            self._refresh(None)

    def close(self) -> None:
        """Stop following the tree; the view keeps its last state."""
        with self._lock:
            self._closed = True
            self._client.remove_listener(self._on_state)
            self._watch.close()

    def update(self, mapping: Mapping[str, Any], version: int | None = None) -> int:
        """Write every key of `mapping` in one transaction (creating the missing
        ones); returns the new version. Given `version`, raises BadVersionError
        and changes nothing when the view has been updated since. A
        ConnectionLoss leaves the outcome unknown and is not repeated."""
        encoded = self._encoded(mapping)
        while True:
            names, stat = self._client.get_children(self.path, include_data=True)
            expected = version if version is not None else stat.version
            transaction = self._client.transaction()
            self._fill(transaction, encoded, names, expected)
            if self._applied(transaction.commit(), version):
                break
        with self._lock:
            self._refresh(None)  # so that this caller reads its own update
        return expected + 1

    def _on_event(self, event: WatchedEvent) -> None:
        with self._lock:
            if not self._wanted(event):
                return
            with contextlib.suppress(SessionExpiredError, ConnectionLoss, NoNodeError):
                self._refresh(event.zxid)

    def _on_state(self, state: KazooState) -> None:
        with self._lock:
            if self._closed:
                return
            if state is KazooState.LOST:
                self._watch.disarm()
            elif state is KazooState.CONNECTED:
                with contextlib.suppress(SessionExpiredError, ConnectionLoss, NoNodeError):
                    self._watch.arm()
                    self._refresh(None)

    def _refresh(self, bound: int | None) -> None:
        """Read the tree; show it when it is the state at `bound` (the zxid of
        the event that asked). Without an event, the first read's newest change
        is the bound, and reads go on until one stays within it. While `path`
        does not exist (NoNodeError) the view keeps its last state."""
        snapshot = self._read()
        if bound is not None:
            self._offer(snapshot, bound)
            return
        while (bound := self._unseen(snapshot)) is not None:
            snapshot = self._read()
            if self._offer(snapshot, bound):
                return

    def _read(self) -> Snapshot:
        names, stat = self._client.get_children(self.path, include_data=True)
        pending = {name: self._client.get_async(join(self.path, name)) for name in names}
        reads: dict[str, Any] = {}
        for name, read in pending.items():
            try:
                reads[name] = read.get()
            except NoNodeError as exc:
                reads[name] = exc
        return snapshot_of(stat, reads)
