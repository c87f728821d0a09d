"""Leases and checkpoints: the protocol a store implements, and an in-memory store.

A lease row per shard holds (owner, counter, checkpoint), as the KCL's lease table does. Every
write goes up ``counter`` by one and is conditional on the counter the writer last saw (and, for
an owner's writes, on the owner): a worker that lost its lease cannot overwrite the new owner's
checkpoint. The row holds no time: an owner proves it is alive by renewing, which moves the
counter, and each worker decides on its own clock that a counter which has not moved for the
lease duration belongs to a dead owner (see ``expiry``). No two machines' clocks are compared.

Stores are synchronous; the consumer calls them from a worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol

from shardflow.consumer.records import Position
from shardflow.consumer.shards import ShardInfo


@dataclass(frozen=True, slots=True)
class Lease:
    shard_id: str
    owner: str | None = None
    counter: int = 0  # goes up with every write: renewal, checkpoint, take, release
    checkpoint: Position | None = None
    parents: tuple[str, ...] = ()
    owner_switches: int = 0  # owner changes since the last checkpoint (as the KCL counts them)

    def switches_to(self, owner: str) -> bool:
        """Whether ``owner`` taking this lease changes hands (ownerSwitchesSinceCheckpoint)."""
        return self.owner is not None and self.owner != owner

    @property
    def finished(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.is_shard_end


class CheckpointStore(Protocol):
    """Where leases and checkpoints live. ``scope`` names one (application, stream).

    ``take``, ``renew``, ``checkpoint`` and ``release`` succeed only while the row's counter is
    the one given (and its owner ``owner`` for the last three); each raises the counter by one
    and returns the new lease or counter, or None / False when someone else wrote first.
    """

    def sync_shards(self, scope: str, shards: list[ShardInfo]) -> None:
        """Create a lease row for every shard that has none."""

    def leases(self, scope: str) -> list[Lease]: ...

    def take(self, scope: str, seen: Lease, owner: str) -> Lease | None:
        """Become the owner of ``seen`` (free, expired or stolen) if its counter has not moved."""

    def renew(self, scope: str, shard_id: str, owner: str, counter: int) -> int | None: ...

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> int | None: ...

    def release(self, scope: str, shard_id: str, owner: str, counter: int) -> bool: ...

    def close(self) -> None: ...


class MemoryCheckpointStore:
    """Leases in a dict: one process, nothing survives it (``tail``, ``verify``, tests)."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Lease]] = {}
        self._lock = threading.Lock()

    def sync_shards(self, scope: str, shards: list[ShardInfo]) -> None:
        with self._lock:
            rows = self._rows.setdefault(scope, {})
            for shard in shards:
                rows.setdefault(shard.shard_id, Lease(shard.shard_id, parents=shard.parents))

    def leases(self, scope: str) -> list[Lease]:
        with self._lock:
            return list(self._rows.get(scope, {}).values())

    def _update(
        self, scope: str, shard_id: str, owner: str | None, counter: int, /, **changes: object
    ) -> Lease | None:
        with self._lock:
            lease = self._rows.get(scope, {}).get(shard_id)
            if lease is None or lease.counter != counter:
                return None
            if owner is not None and lease.owner != owner:
                return None
            new = replace(lease, counter=counter + 1, **changes)  # type: ignore[arg-type]
            self._rows[scope][shard_id] = new
            return new

    def take(self, scope: str, seen: Lease, owner: str) -> Lease | None:
        switched = seen.switches_to(owner)
        return self._update(
            scope,
            seen.shard_id,
            None,
            seen.counter,
            owner=owner,
            owner_switches=seen.owner_switches + switched,
        )

    def renew(self, scope: str, shard_id: str, owner: str, counter: int) -> int | None:
        lease = self._update(scope, shard_id, owner, counter)
        return lease.counter if lease else None

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> int | None:
        lease = self._update(scope, shard_id, owner, counter, checkpoint=position, owner_switches=0)
        return lease.counter if lease else None

    def release(self, scope: str, shard_id: str, owner: str, counter: int) -> bool:
        return self._update(scope, shard_id, owner, counter, owner=None) is not None

    def close(self) -> None:
        pass
