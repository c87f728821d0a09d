"""ShardQueue: one shard's pending work, owned by the accumulator (nothing else writes it).

Closed entries wait in arrival order; the aggregate being filled is kept apart until linger or
size closes it. The queue also carries what the sender and the shard-map refresher decide about
the shard (calls in flight, held for a reshard, backed off after a failure), set only through the
accumulator's methods.
"""

from __future__ import annotations

from collections import deque

from shardflow.model.kpl import AggregateBuilder
from shardflow.producer.batch import AGGREGATE_PARTITION_KEY, Entry
from shardflow.producer.future import RecordFuture
from shardflow.producer.ratelimit import ShardRateLimit


class ShardQueue:
    """One shard's pending work: closed entries in order, and the aggregate being filled."""

    __slots__ = (
        "agg",
        "agg_created",
        "agg_deadline",
        "agg_first",
        "agg_futures",
        "agg_user_bytes",
        "backoff_until",
        "entries",
        "failures",
        "hash_range",
        "held",
        "inflight",
        "limit",
        "shard_id",
    )

    def __init__(self, shard_id: str, hash_range: tuple[int, int], limit: ShardRateLimit | None):
        self.shard_id = shard_id
        self.hash_range = hash_range
        self.entries: deque[Entry] = deque()
        self.agg: AggregateBuilder | None = None
        self.agg_futures: list[RecordFuture] = []
        self.agg_first: tuple[str, bytes, str | None, int] = ("", b"", None, 0)
        self.agg_created = 0.0
        self.agg_deadline = 0.0
        self.agg_user_bytes = 0
        self.inflight = 0  # calls in flight holding entries of this queue
        #: Sends nothing: its shard was resharded away, and its keys move to new queues once
        #: its calls in flight are answered (see ShardMapRefresher).
        self.held = False
        self.backoff_until = 0.0
        self.failures = 0  # consecutive failed sends, for the backoff exponent
        self.limit = limit

    def oldest(self) -> float | None:
        """Put time of the oldest record waiting here, if any."""
        if self.entries:
            return self.entries[0].created
        if self.agg is not None:
            return self.agg_created
        return None

    def open_aggregate(
        self,
        agg: AggregateBuilder,
        record: tuple[str, bytes, str | None],
        hash_key: int,
        created: float,
        ttl: float,
    ) -> None:
        """Start filling ``agg`` with its first user record (the caller adds its future)."""
        self.agg = agg
        self.agg_created, self.agg_deadline = created, created + ttl
        key, data, ehk = record
        self.agg_first = (key, data, ehk, hash_key)
        agg.try_add(key, data, ehk)

    def take_aggregate(self) -> Entry | None:
        """The open aggregate as an entry (a lone record goes as it is), now closed."""
        agg = self.agg
        if agg is None:
            return None
        key, data, ehk, hash_key = self.agg_first
        futures, user_bytes = self.agg_futures, self.agg_user_bytes
        created, deadline = self.agg_created, self.agg_deadline
        self.agg = None
        self.agg_futures = []
        self.agg_user_bytes = 0
        if agg.count == 1:
            return Entry.plain(
                self.shard_id, (key, data, ehk), futures, user_bytes, created, deadline
            )
        return Entry(
            self.shard_id,
            AGGREGATE_PARTITION_KEY,
            agg.encode(),
            str(hash_key),
            futures,
            agg.keys,
            user_bytes,
            created,
            deadline,
            True,
        )
