"""The member's clock for its timers: elections, heartbeats, session expiry.

Monotonic, never wall time. Fault-injection runs can shift it or change its
rate (a skewed or drifting clock) to show that safety never rests on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._base_real = source()
        self._base_value = self._base_real
        self._rate = 1.0
        self._offset = 0.0

    def now(self) -> float:
        return self._base_value + (self._source() - self._base_real) * self._rate + self._offset

    def distort(self, offset: float, rate: float) -> None:
        """From now on run at `rate` and `offset` seconds off true time (a
        jump when the offset changes)."""
        if rate <= 0:
            raise ValueError(f"clock rate must be positive, not {rate}")
        real = self._source()
        self._base_value = self.now() - self._offset
        self._base_real = real
        self._rate = rate
        self._offset = offset
