"""Per-shard read pacing and the consumer's retry backoff (pure: the clock is injected).

AWS allows each shard 5 GetRecords calls per second and 2 MiB/s out; a call that returns more
than that borrows from the following seconds, and further calls fail until it is paid back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from shardflow import backoff

CALLS_PER_SECOND = 5  # AWS: GetRecords transactions per shard per second
BYTES_PER_SECOND = 2 * 1024 * 1024  # AWS: data read per shard per second
MAX_BACKOFF_S = 5.0  # longest wait between retries of a failing call
BASE_BACKOFF_S = 0.1


class ReadPacer:
    """Says how long to wait before the next GetRecords call of one shard."""

    paced = True  # False: the caller may skip measuring pages

    def __init__(
        self,
        calls_per_second: float = CALLS_PER_SECOND,
        bytes_per_second: float = BYTES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = 1.0 / calls_per_second
        self.bytes_per_second = bytes_per_second
        self.clock = clock
        self._next_call = 0.0

    def delay(self) -> float:
        """Seconds until the next call is allowed."""
        return max(0.0, self._next_call - self.clock())

    def called(self, started: float, nbytes: int) -> None:
        """Record a call made at ``started`` (clock time) that returned ``nbytes``."""
        self._next_call = max(
            self._next_call,
            started + self.min_interval,
            started + nbytes / self.bytes_per_second,
        )


class Unpaced(ReadPacer):
    """No pacing: for endpoints without read limits (benchmarks, ``--no-limits`` servers)."""

    paced = False

    def delay(self) -> float:
        return 0.0

    def called(self, started: float, nbytes: int) -> None:
        pass


class Backoff(backoff.Backoff):
    """The consumer's retry waits: the shared rule (``shardflow.backoff``), waiting at least half
    of each step so that a lone reader's retries really spread out."""

    def __init__(
        self,
        base: float = BASE_BACKOFF_S,
        cap: float = MAX_BACKOFF_S,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(base, cap, floor=0.5, rng=rng)
