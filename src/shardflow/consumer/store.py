"""Leases and checkpoints: the protocol a store implements, and an in-memory store.

A lease row per shard holds (owner, counter, checkpoint, expiry). ``counter`` goes up each time
the lease changes hands, so every write of an owner is conditional on (owner, counter): a worker
that lost its lease cannot overwrite the new owner's checkpoint. Expiry is wall-clock time,
which every process on one machine shares.

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
    counter: int = 0
    checkpoint: Position | None = None
    expires_at: float = 0.0  # time.time() after which another worker may take it
    parents: tuple[str, ...] = ()

    def held(self, now: float) -> bool:
        return self.owner is not None and self.expires_at > now

    @property
    def finished(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.is_shard_end


class CheckpointStore(Protocol):
    """Where leases and checkpoints live. ``scope`` names one (application, stream)."""

    def sync_shards(self, scope: str, shards: list[ShardInfo]) -> None:
        """Create a lease row for every shard that has none."""

    def leases(self, scope: str) -> list[Lease]: ...

    def take(
        self, scope: str, shard_id: str, owner: str, seen_counter: int, expires_at: float
    ) -> Lease | None:
        """Become the owner if the counter is still ``seen_counter``; None if someone was faster."""

    def renew(
        self, scope: str, shard_id: str, owner: str, counter: int, expires_at: float
    ) -> bool: ...

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> bool: ...

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
            new = replace(lease, **changes)  # type: ignore[arg-type]
            self._rows[scope][shard_id] = new
            return new

    def take(
        self, scope: str, shard_id: str, owner: str, seen_counter: int, expires_at: float
    ) -> Lease | None:
        return self._update(
            scope,
            shard_id,
            None,
            seen_counter,
            owner=owner,
            counter=seen_counter + 1,
            expires_at=expires_at,
        )

    def renew(self, scope: str, shard_id: str, owner: str, counter: int, expires_at: float) -> bool:
        return self._update(scope, shard_id, owner, counter, expires_at=expires_at) is not None

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> bool:
        return self._update(scope, shard_id, owner, counter, checkpoint=position) is not None

    def release(self, scope: str, shard_id: str, owner: str, counter: int) -> bool:
        return self._update(scope, shard_id, owner, counter, owner=None, expires_at=0.0) is not None

    def close(self) -> None:
        pass
