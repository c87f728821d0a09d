"""The accumulator: per-shard queues of entries, open aggregates, linger, and drain_ready().

It alone changes the queues' state: the sender and the shard-map refresher call its methods
(``begin_call``, ``back_off``, ``hold``...), never write a queue's fields. Its resharding
methods (``hold``, ``changing``, ``remap``...) are in ``resharding.py``, a base class.

Records are routed to their shard when they are put, so an aggregate only ever holds keys of one
shard. Each shard keeps its entries in arrival order; a failed entry goes back to the front of its
shard's queue, ahead of anything newer.

On a stream that places records itself (RecordDistributionStrategy AUTO) no shard can be
predicted: every record goes to one queue, ``ANY_SHARD``, paced at the whole stream's capacity
and never aggregated (AWS does not support aggregates there: a KCL reader drops the user records
whose key is outside the shard they landed on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from shardflow.backoff import backoff_delay
from shardflow.model.hashing import MAX_HASH_KEY
from shardflow.model.kpl import OVERHEAD_MARGIN, AggregateBuilder
from shardflow.model.limits import record_size
from shardflow.producer.batch import AGGREGATE_PARTITION_KEY, Entry
from shardflow.producer.config import ProducerConfig
from shardflow.producer.future import RecordFuture
from shardflow.producer.queue import ShardQueue
from shardflow.producer.ratelimit import ShardRateLimit
from shardflow.producer.resharding import AccumulatorResharding
from shardflow.producer.shardmap import KeyHashes, ShardMap

HASH_CACHE_MAX = 65_536  # partition keys whose hash is remembered (MD5 costs more than a lookup)
ANY_SHARD = "*"  # the queue of an AUTO stream (no shard id looks like this)


class KeyedRecord(Protocol):
    """A user record as ``append_many`` takes it (``TaxiEvent`` is one)."""

    @property
    def partition_key(self) -> str: ...

    @property
    def data(self) -> bytes: ...


class Accumulator(AccumulatorResharding):
    """Routes records to shard queues and hands the sender what is ready."""

    def __init__(
        self, config: ProducerConfig, shard_map: ShardMap, now: float, by_service: bool = False
    ) -> None:
        self.config = config
        self.shard_map = shard_map
        #: The stream places records itself (AUTO): one queue, ``ANY_SHARD``, no aggregation.
        self.by_service = by_service
        self.queues: dict[str, ShardQueue] = {}
        self.closed_count = 0  # entries queued (closed aggregates and plain records)
        self.closed_bytes = 0
        #: partition key (or explicit hash key) -> hash key, remembered
        self.hash_of = KeyHashes(HASH_CACHE_MAX).hash_of
        #: partition key -> (hash key, its shard's queue); cleared when the shard map changes
        self._routes: dict[str, tuple[int, ShardQueue]] = {}
        self._agg_limit = config.aggregation_max_bytes if config.aggregation else 0
        self._agg_max = self._agg_limit - len(AGGREGATE_PARTITION_KEY)
        self._plain_from = self._agg_limit - OVERHEAD_MARGIN
        self._rr = 0
        self._install(shard_map, now, by_service)
        #: Called when enough is queued to fill a request (the sender need not wait for linger).
        self.on_full: Callable[[], None] = lambda: None

    def _limit(self, shards: int, now: float) -> ShardRateLimit | None:
        return ShardRateLimit.for_shards(self.config, shards, now)

    def _install(self, shard_map: ShardMap, now: float, by_service: bool) -> None:
        old = self.queues
        self.queues = {}
        if by_service:
            # The stream spreads records evenly over its open shards: their total capacity.
            q = old.get(ANY_SHARD)
            if q is None:
                q = ShardQueue(ANY_SHARD, (0, MAX_HASH_KEY), self._limit(len(shard_map), now))
            elif len(shard_map) != len(self.shard_map):
                q.limit = self._limit(len(shard_map), now)
            self.queues[ANY_SHARD] = q
            self._by_index = [q] * len(shard_map)
            self._plain_from = 0  # every record goes as itself
        else:
            for sid, start, end in zip(
                shard_map.ids, shard_map.starts, shard_map.ends, strict=True
            ):
                q = old.get(sid)
                if q is None or q.hash_range != (start, end):
                    q = ShardQueue(sid, (start, end), self._limit(1, now))
                self.queues[sid] = q
            self._by_index = [self.queues[sid] for sid in shard_map.ids]
            self._plain_from = self._agg_limit - OVERHEAD_MARGIN
        self._queue_list = list(self.queues.values())
        self._routes = {}
        self.shard_map = shard_map
        self.by_service = by_service

    def route(self, partition_key: str, explicit_hash_key: str | None) -> tuple[int, ShardQueue]:
        """(hash key, shard queue) of a record (hash key 0 when the stream places records)."""
        if self.by_service:
            return 0, self._by_index[0]
        if explicit_hash_key is None:
            got = self._routes.get(partition_key)
            if got is not None:
                return got
        h = self.hash_of(partition_key, explicit_hash_key)
        route = (h, self._by_index[self.shard_map.index(h)])
        if explicit_hash_key is None:
            if len(self._routes) >= HASH_CACHE_MAX:
                self._routes.clear()
            self._routes[partition_key] = route
        return route

    # -- appending ------------------------------------------------------------------------------

    def append(
        self,
        partition_key: str,
        data: bytes,
        explicit_hash_key: str | None,
        future: RecordFuture,
        user_bytes: int,
        clock: Callable[[], float],
        ttl: float,
    ) -> float | None:
        """Queue one user record on its shard, aggregating when enabled and it fits.

        Returns the put time when the record started something new on its shard (a new
        aggregate or entry, so a new linger deadline), else None; the clock is read only then.
        """
        route = self._routes.get(partition_key) if explicit_hash_key is None else None
        hash_key, q = route if route is not None else self.route(partition_key, explicit_hash_key)
        if user_bytes >= self._plain_from:  # aggregation off, or too big to share an aggregate
            if q.agg is not None:  # what is in it was put earlier: it goes first
                self.close_aggregate(q)
            now = clock()
            record = (partition_key, data, explicit_hash_key)
            entry = Entry.plain(q.shard_id, record, [future], user_bytes, now, now + ttl)
            self._enqueue(q, entry)
            return now
        agg = q.agg
        started = None
        if agg is None or not agg.try_add(partition_key, data, explicit_hash_key):
            if agg is not None:
                self.close_aggregate(q)
            started = clock()
            record = (partition_key, data, explicit_hash_key)
            q.open_aggregate(AggregateBuilder(self._agg_max), record, hash_key, started, ttl)
        q.agg_futures.append(future)
        q.agg_user_bytes += user_bytes
        return started

    def append_many(
        self,
        records: Sequence[KeyedRecord],
        sizes: Sequence[int],
        clock: Callable[[], float],
        ttl: float,
    ) -> tuple[list[RecordFuture], float | None]:
        """``append`` for records without explicit hash keys, in order, with their futures;
        returns those and the first put time that started something new (see ``append``).

        The common case (a routed key whose aggregate has room) is handled here in the loop,
        everything else by ``append``: a burst costs one call, not several per record.
        """
        routes = self._routes
        plain_from = self._plain_from
        futures: list[RecordFuture] = []
        first = None
        for r, size in zip(records, sizes, strict=True):
            key = r.partition_key
            data = r.data
            future = RecordFuture()
            futures.append(future)
            route = routes.get(key)
            if route is not None and size < plain_from:
                q = route[1]
                agg = q.agg
                if agg is not None and agg.try_add(key, data, None):
                    q.agg_futures.append(future)
                    q.agg_user_bytes += size
                    continue
            started = self.append(key, data, None, future, size, clock, ttl)
            if first is None:
                first = started
        return futures, first

    def append_at(
        self,
        partition_key: str,
        data: bytes,
        explicit_hash_key: str | None,
        future: RecordFuture,
        created: float,
        deadline: float,
    ) -> None:
        """Re-route a record that was put earlier (its shard changed), keeping its times."""
        self.append(
            partition_key,
            data,
            explicit_hash_key,
            future,
            record_size(data, partition_key),
            lambda: created,
            deadline - created,
        )

    def close_aggregate(self, q: ShardQueue) -> None:
        """Turn the shard's open aggregate into an entry (a lone record goes as it is)."""
        entry = q.take_aggregate()
        if entry is not None:
            self._enqueue(q, entry)

    def reroute(self, entry: Entry) -> None:
        """Send an entry's user records through routing again (their shard changed)."""
        for (key, data, ehk), fut in zip(entry.user_records(), entry.futures, strict=True):
            self.append_at(key, data, ehk, fut, entry.created, entry.deadline)

    def _enqueue(self, q: ShardQueue, entry: Entry) -> None:
        q.entries.append(entry)
        self.closed_count += 1
        self.closed_bytes += entry.size
        if (
            self.closed_count == self.config.collection_max_count
            or self.closed_bytes - entry.size
            < self.config.collection_max_bytes
            <= self.closed_bytes
        ):
            self.on_full()

    def requeue_front(self, entries: list[Entry]) -> list[Entry]:
        """Put failed entries back at the front of their shards, in their order.

        Returns the entries whose shard is gone (resharded meanwhile): the caller re-routes them.
        """
        by_shard: dict[str, list[Entry]] = {}
        orphans: list[Entry] = []
        for e in entries:
            if e.shard_id in self.queues:
                by_shard.setdefault(e.shard_id, []).append(e)
            else:
                orphans.append(e)
        for sid, items in by_shard.items():
            self.queues[sid].entries.extendleft(reversed(items))
            self.closed_count += len(items)
            self.closed_bytes += sum(e.size for e in items)
        return orphans

    # -- what the sender learns about a shard ------------------------------------------------

    def begin_call(self, entries: Iterable[Entry]) -> None:
        """A call takes these entries: their shards have one more call in flight."""
        queues = self.queues
        for sid in {e.shard_id for e in entries}:
            queues[sid].inflight += 1

    def end_call(self, entries: Iterable[Entry]) -> None:
        """The call of these entries is answered (a shard remapped meanwhile is gone)."""
        queues = self.queues
        for sid in {e.shard_id for e in entries}:
            q = queues.get(sid)
            if q is not None:
                q.inflight -= 1

    def has_queue(self, shard_id: str) -> bool:
        return shard_id in self.queues

    def succeeded(self, shard_id: str) -> None:
        """A write to the shard succeeded: its next failure backs off from the first step."""
        q = self.queues.get(shard_id)
        if q is not None:
            q.failures = 0

    def back_off(self, shard_id: str, now: float) -> None:
        """A write to the shard failed and will be retried: send nothing to it for a while,
        longer after each consecutive failure (``shardflow.backoff``, full jitter)."""
        q = self.queues.get(shard_id)
        if q is not None:
            q.failures += 1
            wait = backoff_delay(q.failures, self.config.backoff_base, self.config.backoff_max)
            q.backoff_until = max(q.backoff_until, now + wait)

    # -- draining -------------------------------------------------------------------------------

    def drain_ready(self, now: float, flushing: bool) -> tuple[list[Entry], list[Entry]]:
        """Entries for one PutRecords call, and entries that expired on the way.

        A shard is ready when its oldest record has lingered long enough, when enough is queued
        to fill a request, or when flushing. Ordered mode skips shards with a request in flight
        and never takes two entries sharing a partition key from one shard.
        """
        cfg = self.config
        linger = cfg.linger
        ordered = cfg.ordered and not self.by_service  # no per-key order to keep on AUTO
        full = self.closed_count >= cfg.collection_max_count or (
            self.closed_bytes >= cfg.collection_max_bytes
        )
        count_left, bytes_left = cfg.collection_max_count, cfg.collection_max_bytes
        out: list[Entry] = []
        expired: list[Entry] = []
        queues = self._queue_list
        n = len(queues)
        start = self._rr
        self._rr = (start + 1) % n
        for i in range(n):
            q = queues[(start + i) % n]
            if (ordered and q.inflight) or q.held or q.backoff_until > now:
                continue
            if q.agg is not None and (flushing or now - q.agg_created >= linger):
                self.close_aggregate(q)
            entries = q.entries
            if not entries or not (flushing or full or now - entries[0].created >= linger):
                continue
            taken: set[str] | None = set() if ordered else None
            limit = q.limit
            while entries and count_left:
                e = entries[0]
                if now >= e.deadline:
                    entries.popleft()
                    self.closed_count -= 1
                    self.closed_bytes -= e.size
                    expired.append(e)
                    continue
                if e.size > bytes_left and out:  # (a lone oversized entry still goes)
                    break
                if taken is not None:
                    keys = e.key_set()
                    if not taken.isdisjoint(keys):
                        break
                    taken.update(keys)
                if limit is not None:
                    if not limit.allows(e.size, now):
                        break
                    limit.take(e.size)
                entries.popleft()
                self.closed_count -= 1
                self.closed_bytes -= e.size
                count_left -= 1
                bytes_left -= e.size
                out.append(e)
            if not count_left or bytes_left < 64:
                break
        return out, expired

    def next_wake(self, now: float, flushing: bool) -> float | None:
        """The earliest moment some shard may become ready (None: nothing waits on time)."""
        cfg = self.config
        ordered = cfg.ordered and not self.by_service
        best: float | None = None
        for q in self._queue_list:
            if (ordered and q.inflight) or q.held:
                continue
            oldest = q.oldest()
            if oldest is None:
                continue
            t = now if flushing else oldest + cfg.linger
            if q.backoff_until > t:
                t = q.backoff_until
            if q.limit is not None and q.entries:
                t = max(t, q.limit.ready_at(q.entries[0].size, now))
            if best is None or t < best:
                best = t
        return best
