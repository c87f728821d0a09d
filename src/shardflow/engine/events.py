"""What happened, as it happens: the engine's outcome events, for metrics and anything else.

The request pipeline and the handlers report each call's outcome and the records that moved;
subscribers (``shardflow.metrics``) turn them into the figures the AWS console shows. Emitting
is a method call per subscriber, so with none subscribed it costs nothing measurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shardflow.engine import tenancy


@dataclass(slots=True)
class CallDone:
    """One API call finished (successfully or not)."""

    operation: str
    stream: str | None  # None for calls that name no stream (ListStreams, DescribeLimits)
    success: bool
    error_type: str | None  # the AWS error type when it failed
    latency_s: float
    request_bytes: int
    dry_run: bool = False  # DryRun was set: the call did none of its work


@dataclass(slots=True)
class RecordsIn:
    """Records stored in one shard by one PutRecord/PutRecords call."""

    operation: str
    stream: str
    shard_id: str
    records: int
    bytes: int  # data + partition keys, as IncomingBytes counts them


@dataclass(slots=True)
class PutRecordsOutcome:
    """The per-entry result of one PutRecords call."""

    stream: str
    total: int
    successful: int
    failed: int
    throttled: int


@dataclass(slots=True)
class RecordsOut:
    """Records returned from one shard by one GetRecords call."""

    stream: str
    shard_id: str
    records: int
    bytes: int
    iterator_age_ms: int  # MillisBehindLatest of the response


@dataclass(slots=True)
class Throttled:
    """A call or entries refused for a shard's throughput limit."""

    stream: str
    shard_id: str | None
    direction: str  # "read" or "write"
    records: int  # entries refused (1 for a whole call)


@dataclass(slots=True)
class SubscribeOutcome:
    """The outcome of a SubscribeToShard call for a registered consumer (dry runs excepted)."""

    stream: str
    consumer: str  # the consumer's name
    success: bool  # the subscription was established
    rate_exceeded: bool  # refused: over 1 call/s, or another subscription is active


@dataclass(slots=True)
class RecordsPushed:
    """One SubscribeToShardEvent sent to a consumer (records or a heartbeat)."""

    stream: str
    shard_id: str
    consumer: str
    records: int
    bytes: int  # data + partition keys, as GetRecords.Bytes counts them
    millis_behind_latest: int


@dataclass(slots=True)
class QueueRecordsMoved:
    """One queue call's records: received, acknowledged, or an empty receive."""

    stream: str
    queue_id: str
    queue_name: str
    received: int
    acknowledged: int
    empty_receives: int


@dataclass(slots=True)
class QueueDepth:
    """A queue's record counts, sampled once a second while someone listens."""

    stream: str
    queue_id: str
    queue_name: str
    visible: int
    in_flight: int
    dead_letters_visible: int


Event = (
    CallDone
    | RecordsIn
    | PutRecordsOutcome
    | RecordsOut
    | Throttled
    | SubscribeOutcome
    | RecordsPushed
    | QueueRecordsMoved
    | QueueDepth
)


class Subscriber(Protocol):
    def __call__(self, event: Event) -> None: ...


class EventBus:
    """Fan-out of engine events to subscribers, synchronously and in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def emit(self, event: Event) -> None:
        scope = tenancy.prefix()  # another tenant's streams are apart in the metrics too
        if scope and event.stream is not None:
            event.stream = scope + event.stream
        for subscriber in self._subscribers:
            subscriber(event)
