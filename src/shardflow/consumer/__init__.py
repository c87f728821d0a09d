"""Read every shard of a Kinesis stream in order, with checkpoints and shared leases.

    async with AsyncConsumer("orders", endpoint_url="http://127.0.0.1:4567") as consumer:
        async for batch in consumer:
            for record in batch.records:
                ...

``AsyncConsumer`` is the asyncio core; ``SyncConsumer`` runs it for threaded code (as the
producer's ``AsyncProducer``/``SyncProducer``). ``Consumer`` is a deprecated alias of
``SyncConsumer``, kept for one release. See docs/consumer.md.
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
from shardflow.consumer.sync import SyncConsumer

__all__ = [
    "SHARD_END",
    "AsyncConsumer",
    "AsyncQueueConsumer",
    "Batch",
    "CheckpointStore",
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
    "SyncConsumer",
]


def __getattr__(name: str) -> type:
    """``Consumer``, the old name of ``SyncConsumer``: still works, with a DeprecationWarning."""
    import warnings  # here: the package's namespace stays its public names

    if name == "Consumer":
        warnings.warn(
            "shardflow.consumer.Consumer is deprecated; use SyncConsumer (same class)",
            DeprecationWarning,
            stacklevel=2,
        )
        return SyncConsumer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
