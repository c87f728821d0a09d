"""Exponential backoff with jitter, one rule for every client here (producer, direct writers,
consumer).

The wait before retry ``attempt`` (0 for the first) is drawn from ``[floor * c, c]`` where
``c = min(cap, base * 2**attempt)``: AWS's "exponential backoff and jitter" (Architecture blog,
2015). ``floor=0`` is full jitter, the one that spreads many competing writers best (the
producers, throttled by a shared shard limit); the consumer waits at least half (``floor=0.5``)
so that each retry of a lone reader really waits longer than the one before.
"""

from __future__ import annotations

import random

MAX_EXPONENT = 16  # 2**16 times the base is past any cap in use; keeps the float small


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    *,
    floor: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based), jittered."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 0), MAX_EXPONENT))
    uniform = (rng or random).uniform
    return uniform(ceiling * floor, ceiling)


class Backoff:
    """Successive waits of one retrying caller; ``reset`` after a success."""

    def __init__(
        self, base: float, cap: float, *, floor: float = 0.0, rng: random.Random | None = None
    ) -> None:
        self.base, self.cap, self.floor = base, cap, floor
        self.attempts = 0
        self._rng = rng

    def next(self) -> float:
        wait = backoff_delay(self.attempts, self.base, self.cap, floor=self.floor, rng=self._rng)
        self.attempts += 1
        return wait

    def reset(self) -> None:
        self.attempts = 0
