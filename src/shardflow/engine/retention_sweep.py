"""The background sweep: finish deletions whose delay passed, drop records past retention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from shardflow.clock import Clock
from shardflow.engine.streams import Stream
from shardflow.storage.metadata import MetadataRepository
from shardflow.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)

RETENTION_SWEEP_S = 60.0  # how often expired records are deleted from disk


class RetentionSweep:
    def __init__(
        self,
        store: SqliteStore,
        metadata: MetadataRepository,
        streams: Callable[[], Iterable[Stream]],  # every tenant's, DELETING ones included
        purge: Callable[[Stream], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self._store = store
        self._metadata = metadata
        self._streams = streams
        self._purge = purge
        self._clock = clock

    async def forever(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_SWEEP_S)
            try:
                await self.sweep()
            except Exception:  # keep sweeping; a failed sweep retries next time
                log.exception("retention sweep failed")

    async def sweep(self) -> None:
        now = self._clock.now_ms()
        store = self._store
        for stream in list(self._streams()):
            if stream.is_gone(now):
                await self._purge(stream)
                continue
            cutoff = now - stream.retention_hours * 3_600_000
            expired: list[tuple[int, int]] = []
            for shard in stream.shards:
                first_kept = store.first_position_at(shard.uid, cutoff)
                last = store.last_record(shard.uid)
                if last is None or first_kept == store.first_position(shard.uid):
                    continue  # nothing has expired
                # Records appended after these reads are newer than the cutoff: stop below them.
                end = first_kept - 1 if first_kept is not None else last[0]
                expired.append((shard.uid, end))
            if expired:
                await self._metadata.schedule_purges(expired)
                store.wake_purger()
