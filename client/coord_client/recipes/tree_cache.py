"""`TreeCache`: a local copy of a subtree, kept current by ONE persistent
recursive watch on its root (Curator's CuratorCache), with kazoo's TreeCache
API and events.

`start()` sets the watch first and then reads the subtree, holding the cache
lock, so the changes that happen during the read are applied after it, in
order. A change event makes the cache read that one node; a stale answer
never replaces a newer one (compared by mzxid), and a deletion removes only
the incarnation it deleted (czxid before the deletion's zxid). After a
reconnect the subtree is read again and compared, as Curator does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

from coord_client.events import EventType, KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from coord_client.paths import basename, join, parent, validate_path
from coord_client.recipes.subtree import SubtreeWatch
from coord_client.recipes.waiting import retrying
from coord_client.stat import ZnodeStat

if TYPE_CHECKING:
    from coord_client.client import Client


class NodeData(NamedTuple):
    path: str
    data: bytes
    stat: ZnodeStat


class TreeEvent(NamedTuple):
    """kazoo's event: `event_type` is one of the constants below; `event_data`
    is the NodeData for node events, None for the others."""

    event_type: int
    event_data: NodeData | None

    NODE_ADDED = 0
    NODE_UPDATED = 1
    NODE_REMOVED = 2
    CONNECTION_SUSPENDED = 3
    CONNECTION_RECONNECTED = 4
    CONNECTION_LOST = 5
    INITIALIZED = 6


Listener = Callable[[TreeEvent], Any]


class TreeState:
    """The cache's nodes, its rules (a stale answer never replaces a newer
    one, a deletion removes only the incarnation it deleted) and its events,
    whichever way the tree is read (shared with the asyncio TreeCache)."""

    def __init__(self, client: Any, path: str, guard: AbstractContextManager[Any]) -> None:
        """`guard` is held while the cache is read or changed."""
        self._client = client
        self._root = validate_path(path)
        self._nodes: dict[str, NodeData] = {}
        self._children: dict[str, set[str]] = {}
        self._listeners: list[Listener] = []
        self._guard = guard
        self._started = False
        self._closed = False

    def listen(self, listener: Listener) -> None:
        """Call `listener(TreeEvent)` on every change of the cache and of the connection."""
        self._listeners.append(listener)

    def get_data(self, path: str) -> NodeData | None:
        """The cached node at `path`, None when the cache has none there."""
        with self._guard:
            return self._nodes.get(path)

    def get_children(self, path: str) -> frozenset[str] | None:
        """The cached child names of `path`, None when the cache has no node there."""
        with self._guard:
            if path not in self._nodes:
                return None
            return frozenset(self._children.get(path, ()))

    def _starting(self) -> None:
        if self._started:
            raise RuntimeError("the cache was already started")
        self._started = True

    def _forget(self) -> None:
        """Closed: no more events, nothing cached."""
        self._closed = True
        self._nodes.clear()
        self._children.clear()

    def _to_read(self, event: WatchedEvent) -> bool:
        """Whether the node of a watch event is to be read: not when the cache
        is closed, nor for a deletion, which is applied here."""
        if self._closed:
            return False
        if event.type is EventType.DELETED:
            self._remove(event.path, event.zxid)
            return False
        return True

    def _state_event(self, state: KazooState) -> int:
        """The event a change of the connection makes."""
        if state is KazooState.SUSPENDED:
            return TreeEvent.CONNECTION_SUSPENDED
        if state is KazooState.LOST:
            return TreeEvent.CONNECTION_LOST
        return TreeEvent.CONNECTION_RECONNECTED

    def _loaded(self, path: str, data: bytes, stat: ZnodeStat, names: list[str]) -> list[str]:
        """Take in one node read by a load; the paths of its children, to read next."""
        self._put(path, data, stat)
        return [join(path, name) for name in names]

    def _drop_missing(self, found: set[str]) -> None:
        """After a reload: drop what is no longer there."""
        for path in sorted(set(self._nodes) - found, reverse=True):
            self._remove(path, 0)

    def _put(self, path: str, data: bytes, stat: ZnodeStat) -> None:
        old = self._nodes.get(path)
        if old is not None and stat.mzxid <= old.stat.mzxid:
            return  # not newer than what we have
        node = NodeData(path, data, stat)
        self._nodes[path] = node
        if path != self._root:
            self._children.setdefault(parent(path), set()).add(basename(path))
        self._emit(TreeEvent.NODE_ADDED if old is None else TreeEvent.NODE_UPDATED, node)

    def _remove(self, path: str, zxid: int) -> None:
        """Forget `path` and its subtree, unless it is a newer incarnation than
        the deletion at `zxid` (0: whatever is there)."""
        old = self._nodes.get(path)
        if old is None or (zxid and old.stat.czxid >= zxid):
            return
        for name in sorted(self._children.get(path, ())):
            self._remove(join(path, name), zxid)
        del self._nodes[path]
        self._children.pop(path, None)
        if path != self._root:
            self._children.get(parent(path), set()).discard(basename(path))
        self._emit(TreeEvent.NODE_REMOVED, old)

    def _emit(self, event_type: int, node: NodeData | None = None) -> None:
        event = TreeEvent(event_type, node)
        for listener in list(self._listeners):
            self._tell(listener, event)

    def _tell(self, listener: Listener, event: TreeEvent) -> None:
        listener(event)


class TreeCache(TreeState):
    """`start()`, `listen(fn)`, `get_data(path)`, `get_children(path)`, `close()`."""

    def __init__(self, client: Client, path: str) -> None:
        self._lock = threading.RLock()  # listeners may read the cache
        super().__init__(client, path, self._lock)
        self._watch = SubtreeWatch(client, self._root, self._on_event)

    def start(self) -> None:
        """Watch the subtree and load it; INITIALIZED once loaded."""
        self._starting()
        self._client.add_listener(self._on_state)
        with self._lock:
            self._watch.arm()
            self._load()
            self._emit(TreeEvent.INITIALIZED)

    def close(self) -> None:
        """Stop watching and forget the subtree."""
        with self._lock:
            self._client.remove_listener(self._on_state)
            self._watch.close()
            self._forget()

    # -------------------------------------------------------------- events

    def _on_event(self, event: WatchedEvent) -> None:
        with self._lock:
            if not self._to_read(event):
                return
            try:
                data, stat = retrying(self._client, lambda: self._client.get(event.path))
            except (NoNodeError, SessionExpiredError, ConnectionLoss):
                return  # deleted since (its DELETED event follows), or the session is gone
            self._put(event.path, data, stat)

    def _on_state(self, state: KazooState) -> None:
        with self._lock:
            if self._closed:
                return
            if state is KazooState.LOST:
                self._watch.disarm()
            elif state is KazooState.CONNECTED:
                with contextlib.suppress(SessionExpiredError, ConnectionLoss):
                    self._watch.arm()
                    self._drop_missing(self._load())
            self._emit(self._state_event(state))

    # --------------------------------------------------------------- state

    def _load(self) -> set[str]:
        """Read the subtree level by level (each level in one round trip); the paths found."""
        found: set[str] = set()
        level = [self._root]
        while level:
            reads = [
                (path, self._client.get_async(path), self._client.get_children_async(path))
                for path in level
            ]
            level = []
            for path, node, names in reads:
                try:
                    data, stat = node.get()
                    level += self._loaded(path, data, stat, names.get())
                except NoNodeError:
                    continue  # deleted meanwhile
                found.add(path)
        return found
