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
import uuid
from typing import Any

from coord_api.paths import join, validate_path
from coord_client.exceptions import ConnectionLoss, LockTimeout, NoNodeError, SessionExpiredError
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.recipe import Holder
from coord_client.recipes.session import Wakeup
from coord_client.recipes.steps import (
    Steps,
    Take,
    Wait,
    call,
    children,
    delete_owned,
    identifiers,
    once,
    operation,
    retrying,
)
from coord_client.recipes.waiting import Deadline
from coord_client.stat import ZnodeStat

_CONTENDER = re.compile(r"(__lock__|__rlock__)(\d+)$")


def _sequence(name: str) -> int:
    match = _CONTENDER.search(name)
    assert match is not None
    return int(match.group(2))


def contender_order(names: list[str]) -> list[str]:
    """The contender nodes among `names`, in the order they were created."""
    return sorted((name for name in names if _CONTENDER.search(name)), key=_sequence)


class Lock(Holder):
    """An exclusive lock (kazoo's `Lock`), also a context manager.

    Not re-entrant: like `threading.Lock`, a second `acquire` on the same
    object waits until the first is released (threads, or tasks, may share
    the object).
    """

    _NODE_NAME = "__lock__"
    _EXCLUDE_NAMES: tuple[str, ...] = ("__lock__", "__rlock__")  # the kinds that block us

    def __init__(self, client: Any, path: str, identifier: str | None = None) -> None:
        super().__init__(client)
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.prefix = uuid.uuid4().hex + self._NODE_NAME
        self.node: str | None = None  # our contender node's name
        self.cancelled = False
        self._stat: ZnodeStat | None = None
        self._wakeup = Wakeup(client, self.driver.event())
        self._local = self.driver.mutex()  # one acquisition of this object at a time

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

    # ----------------------------------------------------------- acquire

    @operation
    def acquire(
        self, blocking: bool = True, timeout: float | None = None, ephemeral: bool = True
    ) -> Steps[bool]:
        """True once the lock is ours. Non-blocking: False at once when it is
        not free. Raises LockTimeout when `timeout` seconds pass first, and
        CancelledError after `cancel()`; no contender node is left behind."""
        deadline = Deadline(timeout)
        if not (yield Take(self._local, blocking, deadline.remaining())):
            if blocking:
                raise LockTimeout(f"failed to acquire lock on {self.path} after {timeout}s")
            return False
        try:
            gotten = yield from self._contend(blocking, deadline, ephemeral)
        except BaseException:
            yield from self._let_go()
            raise
        if not gotten:
            yield from self._let_go()
        return gotten

    def cancel(self) -> None:
        """Make a pending `acquire` give up (with CancelledError)."""
        self.cancelled = True
        self._wakeup.event.set()

    def _contend(self, blocking: bool, deadline: Deadline, ephemeral: bool) -> Steps[bool]:
        self._holding.ephemeral = ephemeral
        self._holding.listen()
        with self._wakeup:
            yield from self._make_node(ephemeral)
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                names = contender_order((yield from children(self.path)))
                if self.node not in names:
                    yield from self._make_node(ephemeral)  # removed under us (not by its session)
                    continue
                predecessor = self._predecessor(names)
                if predecessor is None:
                    self._acquired = True
                    return True
                if not blocking:
                    return False
                try:  # get, not exists: no watch is left on a node already gone
                    yield call("get", join(self.path, predecessor), watch=self._wakeup)
                except NoNodeError:
                    continue
                if not (yield Wait(self._wakeup.event, deadline.remaining())):
                    raise LockTimeout(
                        f"failed to acquire lock on {self.path} after {deadline.timeout}s"
                    )

    def _make_node(self, ephemeral: bool) -> Steps[None]:
        """Create our contender node; after a connection loss, look for the one
        the lost create may have made before making another."""
        tried = False

        def attempt() -> Steps[tuple[str, ZnodeStat]]:
            nonlocal tried
            if tried and (found := (yield from self._find_node())) is not None:
                return found
            tried = True
            return (
                yield once(
                    "create",
                    join(self.path, self.prefix),
                    self.data,
                    ephemeral=ephemeral,
                    sequence=True,
                    makepath=True,
                    include_data=True,
                )
            )

        path, stat = yield from retrying(self.client, attempt)
        self.node, self._stat = path.rpartition("/")[2], stat
        self._holding.claim()

    def _find_node(self) -> Steps[tuple[str, ZnodeStat] | None]:
        """Our node, when a create whose reply was lost made it."""
        for name in (yield from children(self.path)):
            if name.startswith(self.prefix):
                stat = yield call("exists", join(self.path, name))
                if stat is not None:
                    return join(self.path, name), stat
        return None

    def _predecessor(self, names: list[str]) -> str | None:
        """The closest earlier node of a kind that blocks ours, None when none does."""
        before = names[: names.index(self.node)] if self.node in names else names
        blocking = [c for c in before if _CONTENDER.search(c).group(1) in self._EXCLUDE_NAMES]
        return blocking[-1] if blocking else None

    # ----------------------------------------------------------- release

    @operation
    def check(self) -> Steps[bool]:
        """Ask the server whether we still hold the lock: for a holder that saw
        the session suspended and must know before it acts. Waits while the
        session is reconnecting."""
        node = self.node_path
        if not self._acquired or not self._holding.held or node is None or self._stat is None:
            return False
        try:
            yield call("sync", self.path)
            stat = yield call("exists", node)
        except (SessionExpiredError, ConnectionLoss):
            stat = None  # the session is gone, and the node with it
        if stat is None or stat.czxid != self._stat.czxid:
            self._holding.lose()
            return False
        self._holding.confirm()
        return self.is_acquired

    def _let_go(self) -> Steps[None]:
        """Remove our node (if we made one) and be ready for the next acquire."""
        self.cancelled = False
        node, stat = self.node_path, self._stat
        self.node, self._stat = None, None
        try:
            if node is not None and stat is not None:
                yield from delete_owned(self._holding, node, stat.version)
        finally:
            self._holding.drop()
            self._local.release()

    # ------------------------------------------------------------- other

    @operation
    def contenders(self) -> Steps[list[str]]:
        """The identifiers of the contenders, holders first, in order."""
        names = contender_order((yield from children(self.path)))
        return (yield from identifiers(join(self.path, name) for name in names))


class WriteLock(Lock):
    """The exclusive side of a read/write lock: waits for every earlier contender."""


class ReadLock(Lock):
    """The shared side of a read/write lock: waits only for earlier writers."""

    _NODE_NAME = "__rlock__"
    _EXCLUDE_NAMES = ("__lock__",)
