"""`Semaphore`: at most `max_leases` holders at once (kazoo's algorithm).

Acquirers queue on a `Lock` at `<path>-__lock__`; only its holder looks at
the lease pool (the children of `<path>`): it takes a lease, an ephemeral node
named by this object's uuid, when fewer than `max_leases` are taken, and
otherwise watches the pool until one goes. A freed lease so wakes one
acquirer, not all of them. `max_leases` is kept as the data of `<path>`; an
object that disagrees is refused (ValueError).
"""

from __future__ import annotations

import uuid
from typing import Any

from coord_api.paths import join, validate_path
from coord_client.exceptions import LockTimeout
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import Lock
from coord_client.recipes.recipe import Holder
from coord_client.recipes.session import Wakeup
from coord_client.recipes.steps import (
    Steps,
    Wait,
    call,
    children,
    create_once,
    delete_owned,
    identifiers,
    operation,
)
from coord_client.recipes.waiting import Deadline


class Semaphore(Holder):
    """A counting semaphore across processes; a context manager too."""

    def __init__(
        self, client: Any, path: str, identifier: str | None = None, max_leases: int = 1
    ) -> None:
        if isinstance(identifier, int):  # `Semaphore(path, 3)` means max_leases elsewhere
            raise TypeError("identifier must be a str; give max_leases by keyword")
        super().__init__(client)
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.max_leases = max_leases
        self.lease_path = join(self.path, uuid.uuid4().hex)
        self.lock_path = self.path + "-__lock__"
        self.cancelled = False
        self._checked = False
        self._mutex = self.same_kind(Lock)(client, self.lock_path, identifier)
        self._wakeup = Wakeup(client, self.driver.event())

    def cancel(self) -> None:
        """Make a pending `acquire` give up (with CancelledError)."""
        self.cancelled = True
        self._mutex.cancel()
        self._wakeup.event.set()

    @operation
    def acquire(self, blocking: bool = True, timeout: float | None = None) -> Steps[bool]:
        """True once a lease is ours. Non-blocking: False when none is free (or
        another acquirer is looking at the pool). Raises LockTimeout when
        `timeout` seconds pass first, CancelledError after `cancel()`."""
        deadline = Deadline(timeout)
        yield from self._check_max_leases()
        self._holding.listen()
        try:
            gotten = yield from self._mutex.acquire.steps(blocking, deadline.remaining())
            if gotten:
                try:
                    gotten = yield from self._take_lease(blocking, deadline)
                finally:
                    yield from self._mutex.release.steps()
        except BaseException:
            yield from self._let_go()
            raise
        if not gotten:
            self._holding.drop()
        self._acquired = gotten
        return gotten

    def _let_go(self) -> Steps[None]:
        """Delete our lease node if we made it; be ready for the next acquire."""
        self.cancelled = False
        try:
            yield from delete_owned(self._holding, self.lease_path, 0)
        finally:
            self._holding.drop()

    @operation
    def lease_holders(self) -> Steps[list[str]]:
        """The identifiers of the lease holders."""
        names = yield from children(self.path)
        return (yield from identifiers(join(self.path, name) for name in names))

    def _take_lease(self, blocking: bool, deadline: Deadline) -> Steps[bool]:
        """Under the mutex: take a lease when one is free, else wait for one."""
        with self._wakeup:
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                leases = yield call("get_children", self.path, watch=self._wakeup)
                mine = self.lease_path.rpartition("/")[2] in leases
                if mine or len(leases) < self.max_leases:
                    if not mine:  # our uuid name: an existing node is a repeated create's
                        yield from create_once(self.lease_path, self.data, ephemeral=True)
                    self._holding.claim()
                    return True
                if not blocking:
                    return False
                if not (yield Wait(self._wakeup.event, deadline.remaining())):
                    raise LockTimeout(
                        f"failed to acquire semaphore on {self.path} after {deadline.timeout}s"
                    )

    def _check_max_leases(self) -> Steps[None]:
        """Make `<path>` holding max_leases, or check the one already there agrees."""
        if self._checked:
            return
        value = str(self.max_leases).encode()
        if not (yield from create_once(self.path, value, makepath=True)):
            data, _ = yield call("get", self.path)
            try:
                leases = int(data.decode())
            except ValueError:
                leases = self.max_leases  # the node's data serves something else
            if leases != self.max_leases:
                raise ValueError(f"inconsistent max leases: {leases}, expected: {self.max_leases}")
        self._checked = True
