"""Read every shard of a Kinesis stream in order, with checkpoints and shared leases.

    async with AsyncConsumer("orders", endpoint_url="http://127.0.0.1:4567") as consumer:
        async for batch in consumer:
            for record in batch.records:
                ...

See docs/consumer.md.
"""

from shardflow.consumer.config import ConsumerConfig
from shardflow.consumer.consumer import AsyncConsumer
from shardflow.consumer.dynamodb_store import DynamoDBCheckpointStore
from shardflow.consumer.errors import (
    ConsumerError,
    EndpointUnreachable,
    LeaseLost,
    ReadError,
    SetupError,
    StreamNotFound,
)
from shardflow.consumer.queue_async import AsyncQueueConsumer
from shardflow.consumer.queue_consumer import QueueConsumer, QueueRecord
from shardflow.consumer.records import SHARD_END, Batch, Position, Record
from shardflow.consumer.sqlite_store import SQLiteCheckpointStore
from shardflow.consumer.store import CheckpointStore, Lease, MemoryCheckpointStore
from shardflow.consumer.sync import Consumer

__all__ = [
    "SHARD_END",
    "AsyncConsumer",
    "AsyncQueueConsumer",
    "Batch",
    "CheckpointStore",
    "Consumer",
    "ConsumerConfig",
    "ConsumerError",
    "DynamoDBCheckpointStore",
    "EndpointUnreachable",
    "Lease",
    "LeaseLost",
    "MemoryCheckpointStore",
    "Position",
    "QueueConsumer",
    "QueueRecord",
    "ReadError",
    "Record",
    "SQLiteCheckpointStore",
    "SetupError",
    "StreamNotFound",
]
