"""Which leases have a dead owner, decided the KCL way: on this worker's own clock (pure).

An owner renews by raising its lease's counter. A worker remembers, per lease, the counter it
last saw and when (on its monotonic clock) it first saw that value; a lease whose counter has not
moved for ``failover`` seconds is expired. Clocks of different machines are never compared, so
skew between them cannot expire a live lease or keep a dead one.

A lease seen for the first time counts as renewed at that moment if it has an owner (a worker
that just started waits a full failover time before taking another's lease), and as free if not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shardflow.consumer.store import Lease


@dataclass(frozen=True, slots=True)
class _Seen:
    counter: int
    since: float  # clock() when this counter value was first seen


class LeaseExpiry:
    """Tracks lease counters over successive scans of the lease table."""

    def __init__(self, failover: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failover = failover
        self.clock = clock
        self._seen: dict[str, _Seen] = {}

    def observe(self, leases: Iterable[Lease]) -> None:
        """Record a scan: a counter that moved restarts its lease's failover time."""
        now = self.clock()
        current: dict[str, _Seen] = {}
        for lease in leases:
            before = self._seen.get(lease.shard_id)
            if before is not None and before.counter == lease.counter:
                current[lease.shard_id] = before
            else:
                current[lease.shard_id] = _Seen(lease.counter, now)
        self._seen = current

    def expired(self, lease: Lease) -> bool:
        """Whether ``lease`` has no live owner: none at all, or one silent for ``failover``."""
        if lease.owner is None:
            return True
        seen = self._seen.get(lease.shard_id)
        if seen is None or seen.counter != lease.counter:
            return False  # not observed yet at this counter: it just moved
        return self.clock() - seen.since >= self.failover

    def held(self, lease: Lease) -> bool:
        return not self.expired(lease)
