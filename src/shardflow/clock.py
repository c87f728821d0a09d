"""The server's wall clock, handed in so that tests move time instead of sleeping (issue 12).

Every timestamp the engine and the store keep (arrival times, state delays, retention, iterator
and NextToken expiry, the account's commitment) comes from one ``Clock``. The server runs on
``SYSTEM_CLOCK``; a test builds the engine on a ``FakeClock`` and ``advance``s it past a delay.
"""

from __future__ import annotations

import time
from typing import Protocol


def now_ms() -> int:
    """Wall-clock milliseconds (a record's ApproximateArrivalTimestamp)."""
    return time.time_ns() // 1_000_000


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """The real wall clock (one call deep: PutRecord reads it once per commit)."""

    now_ms = staticmethod(now_ms)


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock that stands still until the test moves it; starts at the real time."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = now_ms() if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms`` milliseconds (never back: arrival times only grow)."""
        if ms < 0:
            raise ValueError("a clock does not go back")
        self._now_ms += ms
