"""`Lock`, `ReadLock`, `WriteLock`: ZooKeeper's lock recipe under kazoo's names.

Each contender makes an ephemeral sequential node
`<path>/<uuid>__lock__<seq>` (`__rlock__` for a reader); the lowest node that
blocks it holds the lock. A waiter watches only the blocking node just before
its own, so a release wakes one waiter, not all of them (no herd).

The uuid is per object: after a connection loss during the create, the
contender lists the children and finds its own node instead of making a
second one that would block the lock forever. Release deletes only that node,
in one delete that also checks its version; a node of a session that ended is
never deleted by the object that once held it.

Session loss: while the session is suspended `is_acquired` is False (stop
acting: another member may be about to expire the session); it turns True
again when the same session is back, or `check()` confirms it with the
server. When the session is lost the lock is gone: `lost` is set and
`is_acquired` stays False.

Fencing: `fencing_token` is the czxid of the holder's node. Holders of one
lock hold it in the order their nodes were created, so each later holder's
token is strictly greater. A protected resource remembers the highest token
it has seen and refuses a request that carries a lower one; that stops a
holder that was paused (GC, swap) past the end of its session from writing
over its successor. A write to coord itself can be fenced in the same
transaction with `transaction.check(lock.node_path, 0)`, which fails once the
holder's node is gone.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import TYPE_CHECKING

from coord_client.exceptions import ConnectionLoss, LockTimeout, NoNodeError, SessionExpiredError
from coord_client.paths import join, validate_path
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.nodes import children, data_of, delete_owned
from coord_client.recipes.session import Holder, Holding, Wakeup
from coord_client.recipes.waiting import Deadline, retrying
from coord_client.stat import ZnodeStat

if TYPE_CHECKING:
    from coord_client.client import Client

_CONTENDER = re.compile(r"(__lock__|__rlock__)(\d+)$")


def _sequence(name: str) -> int:
    match = _CONTENDER.search(name)
    assert match is not None
    return int(match.group(2))


class LockState:
    """What a lock knows of its node, whichever way it waits: shared by this
    Lock and the asyncio one. Needs `_acquired` and `_holding` (a Holder's)."""

    _NODE_NAME = "__lock__"
    _EXCLUDE_NAMES: tuple[str, ...] = ("__lock__", "__rlock__")  # the kinds that block us
    _acquired: bool
    _holding: Holding

    def _init_node(self, path: str, identifier: str | None) -> None:
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.prefix = uuid.uuid4().hex + self._NODE_NAME
        self.node: str | None = None  # our contender node's name
        self.cancelled = False
        self._stat: ZnodeStat | None = None

    @property
    def fencing_token(self) -> int | None:
        """The czxid of our node while the lock is ours, else None."""
        if self._acquired and self._holding.held and self._stat is not None:
            return self._stat.czxid
        return None

    @property
    def node_path(self) -> str | None:
        """The full path of our contender node, while there is one."""
        return join(self.path, self.node) if self.node else None

    def _create_args(self, ephemeral: bool) -> tuple[tuple[str, bytes], dict[str, bool]]:
        """The arguments of the create that makes our contender node."""
        args = (join(self.path, self.prefix), self.data)
        return args, {
            "ephemeral": ephemeral,
            "sequence": True,
            "makepath": True,
            "include_data": True,
        }

    def _made(self, path: str, stat: ZnodeStat) -> None:
        """Our contender node is `path`."""
        self.node, self._stat = path.rpartition("/")[2], stat
        self._holding.claim()

    def _mine(self, names: list[str]) -> list[str]:
        """Those of `names` that are our contender node (after a lost create)."""
        return [name for name in names if name.startswith(self.prefix)]

    def _still_mine(self, stat: ZnodeStat | None) -> bool:
        """Whether `stat` (our node's, read again) shows we hold the lock still."""
        if stat is None or self._stat is None or stat.czxid != self._stat.czxid:
            self._holding.lose()
            return False
        self._holding.confirm()
        return True

    def _take_node(self) -> tuple[str | None, ZnodeStat | None]:
        """Forget our node; (its path, its stat) for the caller to delete."""
        node, stat = self.node_path, self._stat
        self.node, self._stat = None, None
        return node, stat

    def _predecessor(self, children: list[str]) -> str | None:
        """The closest earlier node of a kind that blocks ours, None when none does."""
        before = children[: children.index(self.node)] if self.node in children else children
        blocking = [c for c in before if _CONTENDER.search(c).group(1) in self._EXCLUDE_NAMES]
        return blocking[-1] if blocking else None


def contender_order(names: list[str]) -> list[str]:
    """The contender nodes among `names`, in the order they were created."""
    return sorted((name for name in names if _CONTENDER.search(name)), key=_sequence)


class Lock(LockState, Holder):
    """An exclusive lock (kazoo's `Lock`), also a context manager.

    Not re-entrant: like `threading.Lock`, a second `acquire` on the same
    object waits until the first is released (threads may share the object).
    """

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        super().__init__(client)
        self.client = client
        self._init_node(path, identifier)
        self._wakeup = Wakeup(client)
        self._local = threading.Lock()  # one acquisition of this object at a time

    # ----------------------------------------------------------- acquire

    def acquire(
        self, blocking: bool = True, timeout: float | None = None, ephemeral: bool = True
    ) -> bool:
        """True once the lock is ours. Non-blocking: False at once when it is
        not free. Raises LockTimeout when `timeout` seconds pass first, and
        CancelledError after `cancel()`; no contender node is left behind."""
        deadline = Deadline(timeout)
        wait = deadline.remaining() if blocking else None
        if not self._local.acquire(blocking, -1 if wait is None else wait):
            if blocking:
                raise LockTimeout(f"failed to acquire lock on {self.path} after {timeout}s")
            return False
        try:
            gotten = self._acquire(blocking, deadline, ephemeral)
        except BaseException:
            self._let_go()
            raise
        if not gotten:
            self._let_go()
        return gotten

    def cancel(self) -> None:
        """Make a pending `acquire` give up (with CancelledError)."""
        self.cancelled = True
        self._wakeup.event.set()

    def _acquire(self, blocking: bool, deadline: Deadline, ephemeral: bool) -> bool:
        self._holding.ephemeral = ephemeral
        self._holding.listen()
        with self._wakeup:
            self._make_node(ephemeral)
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                children = self._sorted_children()
                if self.node not in children:
                    self._make_node(ephemeral)  # removed under us (not by its session)
                    continue
                predecessor = self._predecessor(children)
                if predecessor is None:
                    self._acquired = True
                    return True
                if not blocking:
                    return False
                try:  # get, not exists: no watch is left on a node already gone
                    retrying(self.client, lambda p=predecessor: self._watch(p))
                except NoNodeError:
                    continue
                if not self._wakeup.event.wait(deadline.remaining()):
                    raise LockTimeout(
                        f"failed to acquire lock on {self.path} after {deadline.timeout}s"
                    )

    def _watch(self, name: str) -> None:
        self.client.get(join(self.path, name), watch=self._wakeup)

    def _make_node(self, ephemeral: bool) -> None:
        """Create our contender node; after a connection loss, look for the one
        the lost create may have made before making another."""
        tried = False

        def attempt() -> tuple[str, ZnodeStat]:
            nonlocal tried
            if tried and (found := self._find_node()) is not None:
                return found
            tried = True
            args, kwargs = self._create_args(ephemeral)
            return self.client.create(*args, **kwargs)

        self._made(*retrying(self.client, attempt))

    def _find_node(self) -> tuple[str, ZnodeStat] | None:
        for name in self._mine(self.client.get_children(self.path)):
            stat = self.client.exists(join(self.path, name))
            if stat is not None:
                return join(self.path, name), stat
        return None

    def _sorted_children(self) -> list[str]:
        """The contender nodes, in the order they were created."""
        return contender_order(children(self.client, self.path))

    # ----------------------------------------------------------- release

    def check(self) -> bool:
        """Ask the server whether we still hold the lock: for a holder that saw
        the session suspended and must know before it acts. Waits while the
        session is reconnecting."""
        node = self.node_path
        if not self._acquired or not self._holding.held or node is None or self._stat is None:
            return False
        try:
            retrying(self.client, lambda: self.client.sync(self.path))
            stat = retrying(self.client, lambda: self.client.exists(node))
        except (SessionExpiredError, ConnectionLoss):
            stat = None  # the session is gone, and the node with it
        return self._still_mine(stat) and self.is_acquired

    def _let_go(self) -> None:
        """Remove our node (if we made one) and be ready for the next acquire."""
        self.cancelled = False
        try:
            self._delete_node()
        finally:
            self._holding.drop()
            self._local.release()

    def _delete_node(self) -> None:
        node, stat = self._take_node()
        if node is not None and stat is not None:
            delete_owned(self.client, self._holding, node, stat.version)

    # ------------------------------------------------------------- other

    def contenders(self) -> list[str]:
        """The identifiers of the contenders, holders first, in order."""
        nodes = (join(self.path, name) for name in self._sorted_children())
        return [data.decode() for data in data_of(self.client, nodes)]


class Reading:
    """Mixed in before a lock class: the shared side of a read/write lock."""

    _NODE_NAME = "__rlock__"
    _EXCLUDE_NAMES = ("__lock__",)


class WriteLock(Lock):
    """The exclusive side of a read/write lock: waits for every earlier contender."""


class ReadLock(Reading, Lock):
    """The shared side of a read/write lock: waits only for earlier writers."""
