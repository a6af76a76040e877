"""The watch registry of one member, and the fan-out of applied changes.

Watches live in memory on the member a client is connected to, as in
ZooKeeper. The apply loop hands every applied change to ``fire`` before the
change's own response goes out, so a client sees an event before any result
that reflects it.

Trigger rules (ZooKeeper's): a one-shot data watch (set by get or exists)
fires on CREATED, CHANGED and DELETED of its node; a one-shot child watch
fires on CHILD of its node and on DELETED of the node itself. A persistent
watch fires on every event of its node, CHILD included; a recursive one on
every event in its subtree except CHILD. A watcher hears one event per change
even when several of its watches match.

An event goes only to a watcher that may READ the node it names, with the
node's ACL at the time of the change (ZooKeeper 3.9 checks every delivery,
one-shot watches included: its fix for CVE-2024-23944); a one-shot watch
whose event is withheld is used up all the same, as there.

A client that reconnects here brings its watches and the last zxid it saw
(``rearm``): one-shot watches follow ZooKeeper's SetWatches rules, and
persistent watches get the events they missed replayed from a bounded
in-memory history of recent changes (every member applies every change, so
every member has it).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from enum import Enum
from typing import Protocol

from coord import acl as acls
from coord.acl import Acl, Ids
from coord.outcome import Code, Event, EventType, TreeError
from coord.tree import Tree
from coord_api import paths
from coord_api.wire import client_pb2 as pb


class Watcher(Protocol):
    """Whoever receives events: a session on this member, or a Watch call,
    with the ids its caller has proven."""

    ids: Ids

    def deliver(self, event: pb.WatchEvent) -> None: ...


class Kind(Enum):
    DATA = "data"
    CHILD = "child"
    PERSISTENT = "persistent"
    RECURSIVE = "recursive"


HISTORY = 100_000  # recent changes kept for replay to persistent watches
# ... and at most this much of their paths, so that long paths cannot make
# the history a member's largest use of memory.
HISTORY_PATH_BYTES = 32 << 20
# SetWatches for one-shot watches on a node that exists: (watch kind, the
# Stat field that says it changed, the event then due).
_ONE_SHOT_RULES = {
    pb.DATA: (Kind.DATA, "mzxid", EventType.CHANGED),
    pb.CHILDREN: (Kind.CHILD, "pzxid", EventType.CHILD),
}


class WatchRegistry:
    def __init__(
        self, history: int = HISTORY, per_watcher: int = 10_000, path_bytes: int = 4096
    ) -> None:
        """`per_watcher` and `path_bytes` bound what one session's watches
        hold (--max-watches-per-session, --max-path-bytes)."""
        self._per_watcher = per_watcher
        self._path_bytes = path_bytes
        self._by_kind: dict[Kind, dict[str, set[Watcher]]] = {kind: {} for kind in Kind}
        self._of_watcher: dict[Watcher, set[tuple[Kind, str]]] = defaultdict(set)
        self._history: deque[tuple[int, Event]] = deque()
        self._history_size = history
        self._history_path_bytes = 0
        # The history holds every change with a zxid above this one.
        self.history_after = 0

    def add(self, kind: Kind, path: str, watcher: Watcher) -> None:
        """Arm a watch; TreeError (LIMIT_EXCEEDED) over a limit, arming nothing."""
        held = self._of_watcher.get(watcher, ())
        if (kind, path) not in held:
            if len(held) >= self._per_watcher:
                raise TreeError(
                    Code.LIMIT_EXCEEDED,
                    f"the session holds {len(held)} watches, its limit"
                    f" (--max-watches-per-session {self._per_watcher})",
                )
            if len(path.encode()) > self._path_bytes:
                raise TreeError(
                    Code.LIMIT_EXCEEDED,
                    f"a watched path is over {self._path_bytes} bytes (--max-path-bytes)",
                )
        self._by_kind[kind].setdefault(path, set()).add(watcher)
        self._of_watcher[watcher].add((kind, path))

    def remove(self, kinds: Iterable[Kind], path: str, watcher: Watcher) -> bool:
        """Drop the watcher's watches of these kinds on path; True if any."""
        found = False
        for kind in kinds:
            watchers = self._by_kind[kind].get(path)
            if watchers and watcher in watchers:
                found = True
                self._discard(kind, path, watcher)
        return found

    def remove_watcher(self, watcher: Watcher) -> None:
        """Forget every watch of a watcher (its session ended or its call did)."""
        for kind, path in self._of_watcher.pop(watcher, ()):
            watchers = self._by_kind[kind].get(path)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._by_kind[kind][path]

    def _discard(self, kind: Kind, path: str, watcher: Watcher) -> None:
        watchers = self._by_kind[kind][path]
        watchers.discard(watcher)
        if not watchers:
            del self._by_kind[kind][path]
        self._forget(watcher, kind, path)

    def _forget(self, watcher: Watcher, kind: Kind, path: str) -> None:
        owned = self._of_watcher.get(watcher)
        if owned is not None:
            owned.discard((kind, path))
            if not owned:
                del self._of_watcher[watcher]

    def count(self) -> int:
        return sum(len(watchers) for table in self._by_kind.values() for watchers in table.values())

    def watchers(self) -> int:
        """Sessions holding any watch here (ZooKeeper's wchs)."""
        return len(self._of_watcher)

    def paths(self) -> int:
        """Paths watched by any watch (ZooKeeper's wchs)."""
        return len({path for table in self._by_kind.values() for path in table})

    def fire(self, events: Iterable[Event], zxid: int) -> None:
        history = self._history
        for event in events:
            while history and (
                len(history) >= self._history_size or self._history_path_bytes >= HISTORY_PATH_BYTES
            ):
                old_zxid, old = history.popleft()
                self._history_path_bytes -= len(old.path)
                self.history_after = max(self.history_after, old_zxid)
            history.append((zxid, event))
            self._history_path_bytes += len(event.path)
        if not self._of_watcher:
            return
        for event in events:
            targets = self._targets(event)
            if targets:
                message = _event(event.type, event.path, zxid)
                for watcher in targets:
                    if _may_read(event.acl, watcher):
                        watcher.deliver(message)

    def _targets(self, event: Event) -> set[Watcher]:
        """Who hears this event; one-shot watches are used up on the way."""
        path, kind = event.path, event.type
        targets: set[Watcher] = set()
        one_shot = []
        if kind is not EventType.CHILD:
            one_shot.append(Kind.DATA)
        if kind in (EventType.CHILD, EventType.DELETED):
            one_shot.append(Kind.CHILD)
        for watch_kind in one_shot:
            watchers = self._by_kind[watch_kind].pop(path, None)
            if watchers:
                targets |= watchers
                for watcher in watchers:
                    self._forget(watcher, watch_kind, path)
        targets |= self._by_kind[Kind.PERSISTENT].get(path, set())
        recursive = self._by_kind[Kind.RECURSIVE]
        if recursive and kind is not EventType.CHILD:
            current = path
            while True:
                targets |= recursive.get(current, set())
                if current == "/":
                    break
                current = paths.parent(current)
        return targets

    # ------------------------------------------------------------ reconnect

    def rearm(
        self, watcher: Watcher, watches: Iterable[pb.WatchRegistration], last_zxid: int, tree: Tree
    ) -> list[pb.WatchEvent]:
        """Carry a reconnecting client's watches over; returns the events it
        missed, to send at once."""
        missed: list[tuple[pb.WatchEvent, Acl]] = []
        for watch in watches:
            node = tree.nodes.get(watch.path)
            if watch.kind in _ONE_SHOT_RULES:
                kind, changed_at, event = _ONE_SHOT_RULES[watch.kind]
                if node is None:
                    missed.append((_event(EventType.DELETED, watch.path, tree.zxid), acls.OPEN_ACL))
                elif getattr(node, changed_at) > last_zxid:
                    missed.append((_event(event, watch.path, getattr(node, changed_at)), node.acl))
                else:
                    self.add(kind, watch.path, watcher)
            elif watch.kind == pb.EXISTS:
                if node is not None:
                    missed.append((_event(EventType.CREATED, watch.path, node.czxid), node.acl))
                else:
                    self.add(Kind.DATA, watch.path, watcher)
            elif watch.kind in (pb.PERSISTENT_WATCH, pb.PERSISTENT_RECURSIVE_WATCH):
                recursive = watch.kind == pb.PERSISTENT_RECURSIVE_WATCH
                missed.extend(self._replay(watch.path, recursive, last_zxid, tree))
                self.add(Kind.RECURSIVE if recursive else Kind.PERSISTENT, watch.path, watcher)
        return [message for message, acl in missed if _may_read(acl, watcher)]

    def _replay(self, path: str, recursive: bool, last_zxid: int, tree: Tree):
        """The changes after last_zxid a persistent watch covers. If the
        history no longer reaches back that far, what the tree still shows:
        nodes created or changed since (deletions are then not known)."""
        if last_zxid >= self.history_after:
            for zxid, event in self._history:
                if zxid > last_zxid and _covers(path, recursive, event):
                    yield _event(event.type, event.path, zxid), event.acl
            return
        for node_path, node in sorted(tree.nodes.items()):
            probe = Event(EventType.CHANGED, node_path)
            if not _covers(path, recursive, probe):
                continue
            if node.czxid > last_zxid:
                yield _event(EventType.CREATED, node_path, node.czxid), node.acl
            elif node.mzxid > last_zxid:
                yield _event(EventType.CHANGED, node_path, node.mzxid), node.acl


def _may_read(acl: Acl, watcher: Watcher) -> bool:
    return acls.permits(acl, acls.READ, watcher.ids)


def _covers(path: str, recursive: bool, event: Event) -> bool:
    if not recursive:
        return event.path == path
    if event.type is EventType.CHILD:
        return False
    return event.path == path or path == "/" or event.path.startswith(path + "/")


def _event(kind: EventType, path: str, zxid: int) -> pb.WatchEvent:
    return pb.WatchEvent(type=kind, path=path, zxid=zxid)
