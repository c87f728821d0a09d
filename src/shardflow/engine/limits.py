"""Throughput limits as AWS enforces them: per-shard token buckets and control-plane rates.

Per shard: writes 1 MiB/s and 1,000 records/s; reads 5 GetRecords calls/s and 2 MiB/s. Each
bucket holds one second of its rate, so a shard absorbs a one-second burst and then sustains the
rate. A read is admitted while the byte bucket is not empty and then charged what it returned,
so the bucket can go into debt: after a 10 MiB read the shard's next reads are throttled for about
five seconds, which is how AWS behaves after a large read.

Control-plane operations are limited per account or per stream at AWS's documented rates, and
answer LimitExceededException when exceeded.

On by default (``serve --no-limits`` turns them off); ``--limits-scale`` multiplies the per-shard
rates and buckets, so tests can reach a limit with fewer records. Control-plane rates are not
scaled: they limit how fast a client may administer streams, not how much data they carry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WRITE_RECORDS_PER_S = 1000.0  # per shard
WRITE_BYTES_PER_S = 1024.0 * 1024  # per shard: data + partition key
READ_CALLS_PER_S = 5.0  # per shard
READ_BYTES_PER_S = 2.0 * 1024 * 1024  # per shard

# Control-plane transactions per second, from the Kinesis Data Streams quotas page.
# (operation, scope): scope "account" counts calls of the whole account, "stream" per stream.
CONTROL_RATES: dict[str, tuple[float, str]] = {
    "CreateStream": (5, "account"),
    "DeleteStream": (5, "account"),
    "DescribeStream": (10, "account"),
    "DescribeStreamSummary": (20, "account"),
    "ListStreams": (5, "account"),
    "ListShards": (1000, "stream"),
    "DescribeLimits": (1, "account"),
    "SplitShard": (5, "account"),
    "MergeShards": (5, "account"),
    "AddTagsToStream": (5, "account"),
    "RemoveTagsFromStream": (5, "account"),
    "ListTagsForStream": (5, "account"),
    "IncreaseStreamRetentionPeriod": (5, "account"),
    "DecreaseStreamRetentionPeriod": (5, "account"),
    "RegisterStreamConsumer": (5, "account"),
    "DeregisterStreamConsumer": (5, "stream"),
    "ListStreamConsumers": (5, "stream"),
    "DescribeStreamConsumer": (20, "stream"),
    "EnableEnhancedMonitoring": (5, "account"),
    "DisableEnhancedMonitoring": (5, "account"),
    "StartStreamEncryption": (5, "account"),
    "StopStreamEncryption": (5, "account"),
    # The rest from the operations' own documentation in the service model.
    "UpdateShardCount": (10, "account"),
    "DescribeAccountSettings": (5, "account"),
    "UpdateAccountSettings": (5, "account"),
    "UpdateStreamWarmThroughput": (5, "account"),
    # Not an operation: requests with DryRun set, shared by the data-plane operations that take
    # it (developer guide, "Test your permissions and request inputs with dry run").
    "DryRun": (1, "stream"),
}


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``; starts full."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    @classmethod
    def full(cls, rate: float, now: float) -> TokenBucket:
        capacity = max(rate, 1.0)  # a slow bucket still admits one unit at a time
        return cls(rate, capacity, capacity, now)

    @property
    def is_full(self) -> bool:
        return self.tokens >= self.capacity

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, amount: float, now: float) -> bool:
        """Take ``amount`` if the bucket holds it (all or nothing)."""
        self.refill(now)
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        return False


@dataclass(slots=True)
class _ShardBuckets:
    write_records: TokenBucket
    write_bytes: TokenBucket
    read_calls: TokenBucket
    read_bytes: TokenBucket


class Limiter:
    """Admits or refuses writes, reads and control-plane calls; shared by the whole engine."""

    def __init__(self, enabled: bool = True, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("the limits scale must be positive")
        self.enabled = enabled
        self.scale = scale
        self._shards: dict[int, _ShardBuckets] = {}
        self._control: dict[tuple[str, str], TokenBucket] = {}

    def _buckets(self, shard_uid: int, now: float) -> _ShardBuckets:
        buckets = self._shards.get(shard_uid)
        if buckets is None:
            s = self.scale
            buckets = self._shards[shard_uid] = _ShardBuckets(
                TokenBucket.full(WRITE_RECORDS_PER_S * s, now),
                TokenBucket.full(WRITE_BYTES_PER_S * s, now),
                TokenBucket.full(READ_CALLS_PER_S * s, now),
                TokenBucket.full(READ_BYTES_PER_S * s, now),
            )
        return buckets

    def admit_write(self, shard_uid: int, size: int) -> bool:
        """One record of ``size`` bytes for a shard: admitted (and charged) or throttled."""
        if not self.enabled:
            return True
        now = time.monotonic()
        b = self._buckets(shard_uid, now)
        b.write_records.refill(now)
        b.write_bytes.refill(now)
        # A record larger than the byte bucket is admitted when the bucket is full, into debt:
        # at a small --limits-scale a shard still takes its largest records, just rarely.
        fits = b.write_bytes.tokens >= size or b.write_bytes.is_full
        if b.write_records.tokens >= 1 and fits:
            b.write_records.tokens -= 1
            b.write_bytes.tokens -= size
            return True
        return False

    def admit_read(self, shard_uid: int) -> bool:
        """A GetRecords call on a shard: within 5 calls/s and not in read-bytes debt."""
        if not self.enabled:
            return True
        now = time.monotonic()
        b = self._buckets(shard_uid, now)
        b.read_bytes.refill(now)
        return b.read_bytes.tokens > 0 and b.read_calls.take(1, now)

    def charge_read(self, shard_uid: int, size: int) -> None:
        """What an admitted read returned; the byte bucket may go into debt."""
        if self.enabled and size:
            self._buckets(shard_uid, time.monotonic()).read_bytes.tokens -= size

    def admit_control(self, operation: str, stream: str | None) -> bool:
        if not self.enabled:
            return True
        rule = CONTROL_RATES.get(operation)
        if rule is None:
            return True
        rate, scope = rule
        key = (operation, stream or "") if scope == "stream" else (operation, "")
        now = time.monotonic()
        bucket = self._control.get(key)
        if bucket is None:
            bucket = self._control[key] = TokenBucket.full(rate, now)
        return bucket.take(1, now)

    def forget(self, shard_uid: int) -> None:
        self._shards.pop(shard_uid, None)

    def reset(self) -> None:
        """Full buckets everywhere, as on a fresh server."""
        self._shards.clear()
        self._control.clear()
