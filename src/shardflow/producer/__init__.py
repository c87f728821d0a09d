"""shardflow.producer: write to any Kinesis endpoint with batching, aggregation and order.

``AsyncProducer`` is the asyncio core; ``SyncProducer`` runs the same core for threaded code
(the consumer's ``AsyncConsumer``/``SyncConsumer`` follow the same convention). ``Producer`` is
a deprecated alias of ``AsyncProducer``, kept for one release.
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
from shardflow.producer.producer import AsyncProducer
from shardflow.producer.sync import SyncProducer

__all__ = [
    "AsyncProducer",
    "BufferFullError",
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


def __getattr__(name: str) -> type:
    """``Producer``, the old name of ``AsyncProducer``: still works, with a DeprecationWarning."""
    import warnings  # here: the package's namespace stays its public names

    if name == "Producer":
        warnings.warn(
            "shardflow.producer.Producer is deprecated; use AsyncProducer (same class)",
            DeprecationWarning,
            stacklevel=2,
        )
        return AsyncProducer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
