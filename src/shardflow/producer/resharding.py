"""The accumulator's resharding methods: hold the queues whose shard changed, expire what waits
in them, and adopt a new shard map (a base class of ``Accumulator``, which owns the state)."""

from __future__ import annotations

from shardflow.producer.batch import Entry
from shardflow.producer.queue import ShardQueue
from shardflow.producer.shardmap import ShardMap


class AccumulatorResharding:
    """What ``ShardMapRefresher`` asks of the accumulator when the stream is resharded."""

    queues: dict[str, ShardQueue]
    _queue_list: list[ShardQueue]
    by_service: bool
    closed_count: int
    closed_bytes: int

    def close_aggregate(self, q: ShardQueue) -> None:
        raise NotImplementedError  # Accumulator's

    def _install(self, shard_map: ShardMap, now: float, by_service: bool) -> None:
        raise NotImplementedError  # Accumulator's

    def hold(self, shard_id: str) -> None:
        """Send nothing more to the shard until the next ``remap`` (it was resharded)."""
        q = self.queues.get(shard_id)
        if q is not None:
            q.held = True

    def any_held(self) -> bool:
        return any(q.held for q in self._queue_list)

    def hold_changing(self, shard_map: ShardMap, by_service: bool) -> bool:
        """Hold the queues that ``remap(shard_map, by_service)`` replaces; returns whether any
        of them still has a call in flight (the remap must wait for its answer)."""
        changing = self.changing(shard_map, by_service)
        for q in changing:
            q.held = True
        return any(q.inflight for q in changing)

    def changing(self, shard_map: ShardMap, by_service: bool | None = None) -> list[ShardQueue]:
        """Queues that ``remap(shard_map, …)`` replaces: their shard changed, or they are held.

        A change of strategy (``by_service``; None: unchanged) replaces every queue;
        ``ANY_SHARD`` outlives a reshard.
        """
        if by_service is None:
            by_service = self.by_service
        if by_service != self.by_service:
            return list(self._queue_list)
        if by_service:
            return [q for q in self._queue_list if q.held]
        out = []
        for q in self._queue_list:
            idx = shard_map.index(q.hash_range[0])
            same = (
                shard_map.ids[idx] == q.shard_id
                and (shard_map.starts[idx], shard_map.ends[idx]) == q.hash_range
            )
            if q.held or not same:
                out.append(q)
        return out

    def expire_held(self, now: float) -> list[Entry]:
        """Take the entries of held queues whose deadline has passed."""
        expired: list[Entry] = []
        for q in self._queue_list:
            if not q.held:
                continue
            if q.agg is not None and now >= q.agg_deadline:
                self.close_aggregate(q)
            for e in [e for e in q.entries if now >= e.deadline]:
                q.entries.remove(e)
                self.closed_count -= 1
                self.closed_bytes -= e.size
                expired.append(e)
        return expired

    def remap(self, shard_map: ShardMap, now: float, by_service: bool | None = None) -> list[Entry]:
        """Adopt a new shard map and strategy (None: unchanged); returns queued entries whose
        shard changed (to re-route)."""
        if by_service is None:
            by_service = self.by_service
        moved: list[Entry] = []
        for q in self._queue_list:
            self.close_aggregate(q)
        for q in self.changing(shard_map, by_service):
            q.held = False  # a held queue whose shard is unchanged stays, emptied
            moved.extend(q.entries)
            self.closed_count -= len(q.entries)
            self.closed_bytes -= sum(e.size for e in q.entries)
            q.entries.clear()
        self._install(shard_map, now, by_service)
        return moved
