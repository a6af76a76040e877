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
from coord_client.recipes.nodes import create_once, transaction_error
from coord_client.recipes.subtree import SubtreeWatch

if TYPE_CHECKING:
    from coord_client.client import Client

log = logging.getLogger("coord_client.recipes.config")

OnChange = Callable[[dict[str, Any]], Any]


class Codec(Protocol):
    """What Config needs of a codec; the `json` module is one."""

    def loads(self, data: bytes) -> Any: ...

    def dumps(self, value: Any) -> str | bytes: ...


@dataclass(frozen=True)
class _Snapshot:
    version: int  # the data version of `path`
    raw: dict[str, bytes]
    top: int  # the newest change any of the reads reflected
    complete: bool  # no child vanished between the listing and its read


class Config(Mapping[str, Any]):
    """Name -> bytes (or `codec.loads(bytes)`) for the children of `path`."""

    def __init__(self, client: Client, path: str, codec: Codec | None = None) -> None:
        self._client = client
        self.path = validate_path(path)
        self._codec = codec
        self._lock = threading.RLock()  # one refresh at a time; on_change may read the view
        self._values: dict[str, Any] = {}
        self._version = 0
        self._seen = 0  # every change up to this zxid is in the view
        self._callbacks: list[OnChange] = []
        self._closed = False
        self._watch = SubtreeWatch(client, self.path, self._on_event)
        create_once(client, self.path, b"0", makepath=True)
        client.add_listener(self._on_state)
        with self._lock:
            self._watch.arm()
            self._refresh(None)

    # ------------------------------------------------------------- reading

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

    def close(self) -> None:
        """Stop following the tree; the view keeps its last state."""
        with self._lock:
            self._closed = True
            self._client.remove_listener(self._on_state)
            self._watch.close()

    # ------------------------------------------------------------- writing

    def update(self, mapping: Mapping[str, Any], version: int | None = None) -> int:
        """Write every key of `mapping` in one transaction (creating the missing
        ones); returns the new version. Given `version`, raises BadVersionError
        and changes nothing when the view has been updated since. A
        ConnectionLoss leaves the outcome unknown and is not repeated."""
        encoded = {self._key_path(key): self._encode(value) for key, value in mapping.items()}
        while True:
            names, stat = self._client.get_children(self.path, include_data=True)
            expected = version if version is not None else stat.version
            transaction = self._client.transaction()
            for node, data in encoded.items():
                if node.rpartition("/")[2] in names:
                    transaction.set_data(node, data)
                else:
                    transaction.create(node, data)
            transaction.set_data(self.path, str(expected + 1).encode(), version=expected)
            error = transaction_error(transaction.commit())
            if error is None:
                break
            if isinstance(error, BadVersionError) and version is not None:
                raise BadVersionError(f"{self.path} was updated since version {version}")
            if not isinstance(error, BadVersionError | NodeExistsError | NoNodeError):
                raise error
            # another update, or a key made or removed meanwhile: read again
        with self._lock:
            self._refresh(None)  # so that this caller reads its own update
        return expected + 1

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

    # ----------------------------------------------------------- following

    def _on_event(self, event: WatchedEvent) -> None:
        if event.path != self.path and parent(event.path) != self.path:
            return  # deeper than the keys
        with self._lock:
            if self._closed or event.zxid <= self._seen:
                return  # in the view already (an update's other events)
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
            if snapshot.complete and snapshot.top <= bound:
                self._publish(snapshot, bound)
            return
        while True:
            bound = snapshot.top
            if bound <= self._seen:
                return  # nothing newer than the view
            snapshot = self._read()
            if snapshot.complete and snapshot.top <= bound:
                self._publish(snapshot, bound)
                return

    def _read(self) -> _Snapshot:
        names, stat = self._client.get_children(self.path, include_data=True)
        reads = {name: self._client.get_async(join(self.path, name)) for name in names}
        raw: dict[str, bytes] = {}
        top = max(stat.mzxid, stat.pzxid)
        for name, read in reads.items():
            with contextlib.suppress(NoNodeError):
                raw[name], child_stat = read.get()
                top = max(top, child_stat.mzxid)
        return _Snapshot(stat.version, raw, top, complete=len(raw) == len(reads))

    def _publish(self, snapshot: _Snapshot, zxid: int) -> None:
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
            callback(dict(values))
