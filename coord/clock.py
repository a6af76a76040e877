"""The member's clock for its timers: elections, heartbeats, session expiry.

Monotonic, never wall time. Fault-injection runs can make it jump ahead or
change its rate (a skewed or drifting clock) to show that safety never rests
on it. It never runs backwards: a timer clock that did would stall every
timeout for as long as the jump, which no monotonic clock does.
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
        return self._base_value + (self._source() - self._base_real) * self._rate

    def distort(self, offset: float, rate: float) -> None:
        """From now on run at `rate`; a larger `offset` than before jumps
        ahead by the difference (a smaller one cannot take time back)."""
        if rate <= 0:
            raise ValueError(f"clock rate must be positive, not {rate}")
        current = self.now()
        self._base_value = current + max(0.0, offset - self._offset)
        self._base_real = self._source()
        self._rate = rate
        self._offset = offset
