"""Which leases a worker should take so that workers share a stream's shards evenly (pure).

Free and expired leases go first; a worker below its fair share steals one lease per round from
the busiest worker, which is how a new process gets shards from one that holds them all. Stealing
only when the gap is at least two keeps two workers from handing a lease back and forth.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from shardflow.consumer.store import Lease


@dataclass
class LeasePlan:
    take: list[Lease] = field(default_factory=list)
    steal: Lease | None = None


def plan(
    leases: list[Lease],
    ready: list[str],
    me: str,
    held: Callable[[Lease], bool],
    max_leases: int | None = None,
) -> LeasePlan:
    """Leases among ``ready`` shards that worker ``me`` should take now.

    ``held(lease)``: the lease has a live owner (``expiry.LeaseExpiry.held``).
    """
    wanted = set(ready)
    candidates = sorted(
        (lease for lease in leases if lease.shard_id in wanted), key=lambda lease: lease.shard_id
    )
    load = Counter(lease.owner for lease in candidates if held(lease))
    mine = load.get(me, 0)
    workers = len(set(load) | {me})
    target = math.ceil(len(candidates) / workers) if candidates else 0
    if max_leases is not None:
        target = min(target, max_leases)
    out = LeasePlan()
    need = target - mine
    if need <= 0:
        return out
    out.take = [lease for lease in candidates if not held(lease)][:need]
    if len(out.take) < need and load:
        busiest, count = max(
            ((owner, n) for owner, n in load.items() if owner != me),
            key=lambda item: (item[1], str(item[0])),
            default=(None, 0),
        )
        if busiest is not None and (count > target or count - mine - len(out.take) >= 2):
            out.steal = next(
                lease for lease in reversed(candidates) if lease.owner == busiest and held(lease)
            )
    return out
