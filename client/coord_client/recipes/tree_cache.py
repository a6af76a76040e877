"""`TreeCache`: a local copy of a subtree, kept current by ONE persistent
recursive watch on its root (Curator's CuratorCache), with kazoo's TreeCache
API and events.

`start()` sets the watch first and then reads the subtree, holding the cache
lock, so the changes that happen during the read are applied after it, in
order. A change event makes the cache read that one node; a stale answer
never replaces a newer one (compared by mzxid), and a deletion removes only
the incarnation it deleted (czxid before the deletion's zxid). After a
reconnect the subtree is read again and compared, as Curator does. With the
asyncio client, `await cache.start()` and `await cache.close()`, and
listeners may be coroutine functions (those run as tasks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from coord_api.paths import basename, join, parent, validate_path
from coord_client.events import EventType, KazooState, WatchedEvent
from coord_client.exceptions import NoNodeError
from coord_client.recipes.steps import Gather, Steps, call, once, operation
from coord_client.recipes.subtree import GONE, Following
from coord_client.stat import ZnodeStat


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


class TreeCache(Following):
    """`start()`, `listen(fn)`, `get_data(path)`, `get_children(path)`, `close()`."""

    def __init__(self, client: Any, path: str) -> None:
        self.client = client
        self._root = validate_path(path)
        self._nodes: dict[str, NodeData] = {}
        self._children: dict[str, set[str]] = {}
        self._listeners: list[Listener] = []
        self._guard = threading.Lock()  # the maps, for readers on other threads
        self._follow(self._root)
        self._started = False

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

    @operation
    def start(self) -> Steps[None]:
        """Watch the subtree and load it; INITIALIZED once loaded."""
        if self._started:
            raise RuntimeError("the cache was already started")
        self._started = True
        yield from self._start_following(self._initial())

    def _initial(self) -> Steps[None]:
        yield from self._load()
        self._emit(TreeEvent.INITIALIZED)

    @operation
    def close(self) -> Steps[None]:
        """Stop watching and forget the subtree."""
        yield from self._locked(self._closing())

    def _closing(self) -> Steps[None]:
        yield from self._stop_following()
        with self._guard:
            self._nodes.clear()
            self._children.clear()

    # -------------------------------------------------------------- events

    def _changed(self, event: WatchedEvent) -> Steps[None]:
        if event.type is EventType.DELETED:
            self._remove(event.path, event.zxid)
            return
        try:
            data, stat = yield call("get", event.path)
        except GONE:
            return  # deleted since (its DELETED event follows), or the session is gone
        self._put(event.path, data, stat)

    def _reload(self) -> Steps[None]:
        found = yield from self._load()
        for path in sorted(set(self._nodes) - found, reverse=True):
            self._remove(path, 0)  # gone while we were away

    def _told(self, state: KazooState) -> None:
        if state is KazooState.SUSPENDED:
            self._emit(TreeEvent.CONNECTION_SUSPENDED)
        elif state is KazooState.LOST:
            self._emit(TreeEvent.CONNECTION_LOST)
        else:
            self._emit(TreeEvent.CONNECTION_RECONNECTED)

    # --------------------------------------------------------------- state

    def _load(self) -> Steps[set[str]]:
        """Read the subtree level by level (each level's reads at once); the paths found."""
        found: set[str] = set()
        level = [self._root]
        while level:
            reads = (once(method, path) for path in level for method in ("get", "get_children"))
            results = yield Gather(tuple(reads))
            paths, level = level, []
            for path, node, names in zip(paths, results[::2], results[1::2], strict=True):
                for result in (node, names):
                    if isinstance(result, BaseException) and not isinstance(result, NoNodeError):
                        raise result
                if isinstance(node, NoNodeError) or isinstance(names, NoNodeError):
                    continue  # deleted meanwhile
                self._put(path, *node)
                level += [join(path, name) for name in names]
                found.add(path)
        return found

    def _put(self, path: str, data: bytes, stat: ZnodeStat) -> None:
        with self._guard:
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
        with self._guard:
            del self._nodes[path]
            self._children.pop(path, None)
            if path != self._root:
                self._children.get(parent(path), set()).discard(basename(path))
        self._emit(TreeEvent.NODE_REMOVED, old)

    def _emit(self, event_type: int, node: NodeData | None = None) -> None:
        event = TreeEvent(event_type, node)
        for listener in list(self._listeners):
            self.driver.detach(listener(event))
