"""What a worker knows about each shard it holds a lease on, and the queue's end marker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from shardflow.consumer import fanout
from shardflow.consumer.reader import ShardReader
from shardflow.consumer.records import Position
from shardflow.consumer.store import Lease


@dataclass(eq=False)
class ShardState:
    """What this worker knows about one shard it holds a lease on."""

    lease: Lease
    reader: ShardReader | fanout.FanOutReader | None = None
    task: asyncio.Task[str] | None = None
    delivered: Position | None = None  # last record handed to the application
    processed: Position | None = None  # last record the application is done with
    checkpointed: Position | None = None
    lost: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # processed == delivered
    # Every write raises the lease counter: one at a time, each with the counter the last left.
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    renewed: float = field(default_factory=time.monotonic)  # last successful take or renewal

    def __post_init__(self) -> None:
        self.checkpointed = self.lease.checkpoint
        self.settled.set()

    def mark_processed(self, position: Position) -> None:
        if self.processed is None or position > self.processed:
            self.processed = position
        if self.delivered is None or self.processed >= self.delivered:
            self.settled.set()


class Stop:
    """Queue sentinel: no more batches."""
