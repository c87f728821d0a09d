"""Wiring of the queue service and its delivery side (the engine calls this once)."""

from __future__ import annotations

from collections.abc import Callable

from shardflow.clock import Clock
from shardflow.config import Config
from shardflow.engine.access import FindStream
from shardflow.engine.consumers import Consumers
from shardflow.engine.events import EventBus
from shardflow.engine.queue_delivery import QueueDelivery
from shardflow.engine.queue_service import Queues, QueueTimings
from shardflow.engine.streams import Stream
from shardflow.storage.sqlite import SqliteStore


def build_queues(
    config: Config,
    store: SqliteStore,
    find_stream: FindStream,
    stream_at: Callable[[str], Stream | None],
    consumers: Consumers,
    events: EventBus,
    clock: Clock,
) -> tuple[Queues, QueueDelivery]:
    """The queues' control plane and delivery; queues share the registered-consumer limit."""
    queues = Queues(
        account_id=config.account_id,
        region=config.region,
        find_stream=find_stream,
        stream_at=stream_at,
        store=store,
        timings=QueueTimings(
            config.create_stream_ms, config.delete_stream_ms, config.update_stream_ms
        ),
        consumer_count=consumers.count,
        consumer_limit=consumers.limit,
        clock=clock.now_ms,
    )
    consumers.queue_count = queues.count
    return queues, QueueDelivery(queues, events)
