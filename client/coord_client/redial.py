"""One session's fail-over schedule (both clients'): which member next, how
long it may take, how long to wait after a failed attempt, and when the
session counts as lost."""

from __future__ import annotations

import itertools
import math
import random
import time
from typing import Any

from coord_client.protocol import Protocol

BACKOFF_FIRST = 0.05  # seconds; doubled per failed attempt, jittered
BACKOFF_MAX = 2.0
MIN_PATIENCE = 1.0  # seconds a member is given at least to take the session


class Redial:
    """One session's fail-over schedule: the hosts in turn, each given its share
    of the session timeout (as ZooKeeper's client), jittered exponential
    backoff after a failed attempt, and the moment the session counts as lost
    (its timeout after a member last spoke for it)."""

    def __init__(self, hosts: list[str], protocol: Protocol) -> None:
        self._hosts = itertools.cycle(hosts)
        self._count = len(hosts)
        self._protocol = protocol
        self._heard: float | None = None  # when a member last spoke for the session
        self._delay = 0.0
        self._distinct = len(set(hosts))
        self._current = ""
        self._tls_failed: set[str] = set()  # the hosts whose last attempt failed at TLS

    def next_host(self) -> str:
        self._current = next(self._hosts)
        self._tls_failed.discard(self._current)
        return self._current

    def time_left(self) -> float:
        """Seconds until the session counts as lost; no limit before it was ever up."""
        if self._heard is None:
            return math.inf
        return self._heard + self._protocol.timeout_ms / 1000 - time.monotonic()

    def patience(self) -> float:
        """How long the next member may take to take the session: its share of the
        timeout, but enough for a live member to open a session."""
        share = max(self._protocol.timeout_ms / 1000 / self._count, MIN_PATIENCE)
        return min(share, self.time_left())

    @property
    def was_up(self) -> bool:
        return self._heard is not None

    def tls_failed(self) -> None:
        """The attempt on the current host failed at the TLS layer."""
        self._tls_failed.add(self._current)

    def hopeless(self) -> bool:
        """Whether the session, never up, failed at the TLS layer on every
        host: a setting is wrong, and trying again will not help."""
        return not self.was_up and len(self._tls_failed) == self._distinct

    def ended(self, stream: Any) -> float:
        """A stream ended (None: the member was not reached); the seconds to
        wait before the next attempt."""
        if stream is not None and stream.established:
            self._heard, self._delay = stream.last_received, 0.0
        self._delay = min(max(self._delay * 2, BACKOFF_FIRST), BACKOFF_MAX)
        return max(min(random.uniform(0, self._delay), self.time_left()), 0.0)
