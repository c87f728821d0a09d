"""shardflow.producer: write to any Kinesis endpoint with batching, aggregation and order.

``Producer`` is the asyncio core; ``SyncProducer`` runs the same core for threaded code.
"""

from shardflow.producer.config import ProducerConfig
from shardflow.producer.errors import (
    BufferFullError,
    ProducerClosedError,
    ProducerError,
    RecordExpiredError,
    RecordTooLargeError,
    RejectedError,
    SendError,
    ServiceError,
    StreamNotFoundError,
    ThrottledError,
    TransportError,
)
from shardflow.producer.future import RecordFuture, RecordResult
from shardflow.producer.producer import Producer
from shardflow.producer.sync import SyncProducer

__all__ = [
    "BufferFullError",
    "Producer",
    "ProducerClosedError",
    "ProducerConfig",
    "ProducerError",
    "RecordExpiredError",
    "RecordFuture",
    "RecordResult",
    "RecordTooLargeError",
    "RejectedError",
    "SendError",
    "ServiceError",
    "StreamNotFoundError",
    "SyncProducer",
    "ThrottledError",
    "TransportError",
]
