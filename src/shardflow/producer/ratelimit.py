"""Per-shard token buckets, so the producer does not send what the shard would refuse."""

from __future__ import annotations

from shardflow.producer.config import ProducerConfig


class TokenBucket:
    """``rate`` tokens per second, at most one second's worth saved up."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = rate
        self.tokens = rate
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def take(self, amount: float) -> None:
        self.tokens -= amount

    def ready_at(self, amount: float, now: float) -> float:
        """When ``amount`` tokens (capped at capacity) will be there."""
        self._refill(now)
        need = min(amount, self.capacity) - self.tokens
        return now if need <= 0 else now + need / self.rate


class ShardRateLimit:
    """Records and bytes per second for one shard."""

    __slots__ = ("bytes", "records")

    def __init__(self, records_per_s: float, bytes_per_s: float, now: float) -> None:
        self.records = TokenBucket(records_per_s, now)
        self.bytes = TokenBucket(bytes_per_s, now)

    @classmethod
    def for_shards(cls, config: ProducerConfig, shards: int, now: float) -> ShardRateLimit | None:
        """``shards`` shards' worth of the per-shard write limits (None: not rate limited)."""
        rate = config.rate_limit
        if rate is None:
            return None
        records = config.shard_records_per_s * rate * shards
        return cls(records, config.shard_bytes_per_s * rate * shards, now)

    def allows(self, size: int, now: float) -> bool:
        return self.records.available(now) >= 1 and self.bytes.available(now) >= min(
            size, self.bytes.capacity
        )

    def take(self, size: int) -> None:
        self.records.take(1)
        self.bytes.take(size)

    def ready_at(self, size: int, now: float) -> float:
        return max(self.records.ready_at(1, now), self.bytes.ready_at(size, now))
