"""Consumer settings: one keyword-only value object, defaults matching AWS's limits."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime

MAX_RECORDS_PER_CALL = 10_000  # AWS: GetRecords returns at most 10,000 records
ITERATOR_REFRESH_S = 240.0  # iterators expire after 300 s; renew well before


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, kw_only=True)
class ConsumerConfig:
    """How a consumer reads. Times are seconds.

    ``start`` applies to shards without a checkpoint: ``"trim-horizon"``, ``"latest"`` or a
    datetime (AT_TIMESTAMP).
    """

    application: str = "shardflow"  # checkpoints and leases are kept per application and stream
    start: str | datetime = "trim-horizon"
    shard_ids: tuple[str, ...] | None = None  # read only these shards (no parent ordering)
    worker_id: str = field(default_factory=default_worker_id)
    limit: int = MAX_RECORDS_PER_CALL
    read_limits: bool = True  # pace calls to 5/s and 2 MiB/s per shard, as AWS enforces
    deaggregate: bool = True
    idle_interval: float = 1.0  # wait after an empty page at the tip before asking again
    auto_checkpoint: bool = True  # a batch counts as processed once the next one is asked for
    checkpoint_interval: float = 5.0
    lease_duration: float = 10.0  # an owner silent this long loses its leases
    max_leases: int | None = None
    stop_at_tip: bool = False  # finish once every shard is read to its end or caught up
    max_pending_batches: int = 16  # pages read ahead of the application, over all shards
    # how often RecordDistributionStrategy is read again (also after every reshard seen)
    strategy_refresh: float = 60.0
    # enhanced fan-out: read with SubscribeToShard as this stream consumer (registered if missing)
    fan_out: str | None = None
    deregister_on_close: bool = False  # fan-out: deregister the stream consumer on close

    def __post_init__(self) -> None:
        if isinstance(self.start, str) and self.start not in ("trim-horizon", "latest"):
            raise ValueError("start must be 'trim-horizon', 'latest' or a datetime")
        if not 1 <= self.limit <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"limit must be between 1 and {MAX_RECORDS_PER_CALL}")
        if self.lease_duration <= 0 or self.checkpoint_interval <= 0:
            raise ValueError("lease_duration and checkpoint_interval must be positive")
        if self.strategy_refresh <= 0:
            raise ValueError("strategy_refresh must be positive")
        if self.fan_out is not None and not self.fan_out:
            raise ValueError("fan_out must name the stream consumer")
        if self.deregister_on_close and self.fan_out is None:
            raise ValueError("deregister_on_close applies to fan_out only")

    @property
    def renew_interval(self) -> float:
        """How often leases are renewed and shards re-listed: three chances before expiry."""
        return self.lease_duration / 3
