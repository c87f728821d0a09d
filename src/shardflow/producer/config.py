"""ProducerConfig: every producer setting in one value object, KPL names in the comments."""

from __future__ import annotations

from dataclasses import dataclass

from shardflow.model.kpl import AGGREGATION_MAX_BYTES
from shardflow.model.limits import MAX_RECORD_BYTES, MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS

SHARD_RECORDS_PER_S = 1000  # AWS per-shard write limit, records
SHARD_BYTES_PER_S = 1_048_576  # AWS per-shard write limit, bytes


__all__ = ["MAX_RECORD_BYTES", "MAX_REQUEST_BYTES", "MAX_REQUEST_RECORDS", "ProducerConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ProducerConfig:
    """How the producer batches, paces and retries. Defaults follow the KPL's."""

    #: Pack user records of one shard into KPL aggregates (AggregationEnabled).
    aggregation: bool = True
    #: Largest aggregate, bytes (AggregationMaxSize).
    aggregation_max_bytes: int = AGGREGATION_MAX_BYTES
    #: Entries per PutRecords call (CollectionMaxCount).
    collection_max_count: int = MAX_REQUEST_RECORDS
    #: Bytes per PutRecords call (CollectionMaxSize).
    collection_max_bytes: int = MAX_REQUEST_BYTES
    #: Seconds a record may wait for company before it is sent (RecordMaxBufferedTime).
    linger: float = 0.1
    #: Seconds a record may take to be written before its future fails (RecordTtl).
    record_ttl: float = 30.0
    #: Per-key order: one request in flight per shard, failed records resent before newer ones.
    ordered: bool = True
    #: Requests in flight at once (MaxConnections); also the client's connection pool size.
    max_inflight: int = 24
    #: Per-shard rate limit as a fraction of the shard's write limit (RateLimit 150 %);
    #: None sends as fast as the service accepts.
    rate_limit: float | None = 1.5
    shard_records_per_s: int = SHARD_RECORDS_PER_S
    shard_bytes_per_s: int = SHARD_BYTES_PER_S
    #: Backpressure: put() waits while this many user records or bytes are buffered.
    max_buffered_records: int = 200_000
    max_buffered_bytes: int = 256 * 1_048_576
    #: Seconds put() waits for room before BufferFullError; None waits for ever.
    put_timeout: float | None = 60.0
    #: Seconds per PutRecords call before its outcome counts as unknown (RequestTimeout).
    request_timeout: float = 6.0
    connect_timeout: float = 2.0
    #: Exponential backoff with full jitter, seconds.
    backoff_base: float = 0.05
    backoff_max: float = 2.0
    #: Shortest interval between two ListShards refreshes, seconds.
    shard_map_min_refresh: float = 1.0
    #: Seconds between checks of the stream's RecordDistributionStrategy and shards, as the
    #: KPL's every 5 minutes (a switch from AUTO back to keys gives no other sign); None: only
    #: when a record lands on an unexpected shard.
    strategy_refresh: float | None = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.collection_max_count <= MAX_REQUEST_RECORDS:
            raise ValueError(f"collection_max_count must be 1..{MAX_REQUEST_RECORDS}")
        if not 1 <= self.collection_max_bytes <= MAX_REQUEST_BYTES:
            raise ValueError(f"collection_max_bytes must be 1..{MAX_REQUEST_BYTES}")
        if not 64 <= self.aggregation_max_bytes <= MAX_RECORD_BYTES:
            raise ValueError(f"aggregation_max_bytes must be 64..{MAX_RECORD_BYTES}")
        if self.max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive, or None")
        if self.linger < 0 or self.record_ttl <= 0:
            raise ValueError("linger must be >= 0 and record_ttl > 0")
        if self.strategy_refresh is not None and self.strategy_refresh <= 0:
            raise ValueError("strategy_refresh must be positive, or None")
