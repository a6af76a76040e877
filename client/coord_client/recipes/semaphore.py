"""`Semaphore`: at most `max_leases` holders at once (kazoo's algorithm).

Acquirers queue on a `Lock` at `<path>-__lock__`; only its holder looks at
the lease pool (the children of `<path>`): it takes a lease, an ephemeral node
named by this object's uuid, when fewer than `max_leases` are taken, and
otherwise watches the pool until one goes. A freed lease so wakes one
acquirer, not all of them. `max_leases` is kept as the data of `<path>`; an
object that disagrees is refused (ValueError).
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

from coord_client.exceptions import LockTimeout
from coord_client.paths import join, validate_path
from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import Lock
from coord_client.recipes.nodes import children, create_once, data_of, delete_owned
from coord_client.recipes.session import Holder, Holding, Wakeup
from coord_client.recipes.waiting import Deadline, retrying

if TYPE_CHECKING:
    pass


class SemaphoreState:
    """What a semaphore knows, whichever way it waits: shared by this Semaphore
    and the asyncio one, which name their lock class and event class."""

    _acquired: bool
    _holding: Holding
    _mutex_type: Any  # the lock class acquirers queue on
    _event_type: Any = threading.Event

    def __init__(
        self, client: Any, path: str, identifier: str | None = None, max_leases: int = 1
    ) -> None:
        if isinstance(identifier, int):  # `Semaphore(path, 3)` means max_leases elsewhere
            raise TypeError("identifier must be a str; give max_leases by keyword")
        super().__init__(client)  # type: ignore[call-arg] (the Holder's)
        self.client = client
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.max_leases = max_leases
        self.lease_path = join(self.path, uuid.uuid4().hex)
        self.lock_path = self.path + "-__lock__"
        self.cancelled = False
        self._checked = False
        self._mutex = self._mutex_type(client, self.lock_path, identifier)
        self._wakeup: Wakeup = Wakeup(client, self._event_type())

    def cancel(self) -> None:
        """Make a pending `acquire` give up (with CancelledError)."""
        self.cancelled = True
        self._mutex.cancel()
        self._wakeup.event.set()

    def _settle(self, gotten: bool) -> bool:
        """The acquire is over: held or not."""
        if not gotten:
            self._holding.drop()
        self._acquired = gotten
        return gotten

    def _lease_free(self, leases: list[str]) -> tuple[bool, bool]:
        """(ours is among `leases`: a repeated create made it, one may be taken)."""
        mine = self.lease_path.rpartition("/")[2] in leases
        return mine, mine or len(leases) < self.max_leases

    def _agree(self, data: bytes) -> None:
        """Check the max_leases kept at `path` (`data`) agrees with ours."""
        try:
            leases = int(data.decode())
        except ValueError:
            leases = self.max_leases  # the node's data serves something else
        if leases != self.max_leases:
            raise ValueError(f"inconsistent max leases: {leases}, expected: {self.max_leases}")


class Semaphore(SemaphoreState, Holder):
    """A counting semaphore across processes; a context manager too."""

    _mutex_type = Lock

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """True once a lease is ours. Non-blocking: False when none is free (or
        another acquirer is looking at the pool). Raises LockTimeout when
        `timeout` seconds pass first, CancelledError after `cancel()`."""
        deadline = Deadline(timeout)
        self._check_max_leases()
        self._holding.listen()
        try:
            gotten = self._mutex.acquire(blocking, deadline.remaining())
            if gotten:
                try:
                    gotten = self._take_lease(blocking, deadline)
                finally:
                    self._mutex.release()
        except BaseException:
            self._let_go()
            raise
        return self._settle(gotten)

    def _let_go(self) -> None:
        """Delete our lease node if we made it; be ready for the next acquire."""
        self.cancelled = False
        try:
            delete_owned(self.client, self._holding, self.lease_path, 0)
        finally:
            self._holding.drop()

    def lease_holders(self) -> list[str]:
        """The identifiers of the lease holders."""
        leases = (join(self.path, name) for name in children(self.client, self.path))
        return [data.decode() for data in data_of(self.client, leases)]

    def _take_lease(self, blocking: bool, deadline: Deadline) -> bool:
        """Under the mutex: take a lease when one is free, else wait for one."""
        with self._wakeup:
            while True:
                self._wakeup.event.clear()
                if self.cancelled:
                    raise CancelledError(f"acquiring {self.path} was cancelled")
                leases = retrying(
                    self.client, lambda: self.client.get_children(self.path, watch=self._wakeup)
                )
                mine, free = self._lease_free(leases)
                if free:
                    if not mine:  # our uuid name: an existing node is a repeated create's
                        create_once(self.client, self.lease_path, self.data, ephemeral=True)
                    self._holding.claim()
                    return True
                if not blocking:
                    return False
                if not self._wakeup.event.wait(deadline.remaining()):
                    raise LockTimeout(
                        f"failed to acquire semaphore on {self.path} after {deadline.timeout}s"
                    )

    def _check_max_leases(self) -> None:
        """Make `<path>` holding max_leases, or check the one already there agrees."""
        if self._checked:
            return
        if not create_once(self.client, self.path, str(self.max_leases).encode(), makepath=True):
            self._agree(retrying(self.client, lambda: self.client.get(self.path))[0])
        self._checked = True
