"""SubscribeToShard (enhanced fan-out): one push subscription per consumer and shard.

As AWS documents it (API reference, SubscribeToShard; developer guide, dry run):

- the consumer must be registered and ACTIVE;
- a subscription lasts at most 5 minutes, then its stream ends and the client subscribes again;
- one call per second per consumer per shard: a call over that rate fails with
  LimitExceededException (scaled by ``--limits-scale``, off with ``--no-limits``), before the
  next rule is looked at;
- a second call for the same consumer and shard within 5 seconds of a successful one fails with
  ResourceInUseException; 5 seconds or more after, it takes over and the earlier stream ends
  with a ResourceInUseException event;
- ``DryRun`` checks the consumer, the shard and the starting position and answers
  DryRunOperationException without subscribing (and without counting towards the call rate);
  dry runs have their own rate, 1 per second per stream, shared with the other operations that
  take DryRun (``shardflow.engine.dry_run``). ``StreamId`` is "Not Implemented. Reserved for
  future use." in AWS's model: validated, then ignored;
- events are pushed as records arrive, with an event (possibly without records) at least every
  5 seconds; at the end of a closed shard the last event has ChildShards and no
  ContinuationSequenceNumber, and the stream ends;
- each consumer reads each shard at up to 2 MiB/s, apart from GetRecords' 5 calls/s and 2 MiB/s:
  deliveries are paced to that rate (scaled by ``--limits-scale``, off with ``--no-limits``):
  an event carries at most what the consumer's one-second bucket holds (but always one record),
  and an event that overdraws it delays the next read until the bucket is out of debt.

The starting position is resolved by the same code as GetShardIterator; records are read by the
engine's read path (``Reads.read_shard``). A subscription waits on the engine's ``RecordsIn``
events for its shard (and re-checks every second, since resharding emits no event). Calls and
pushed events are reported on the event bus (``SubscribeOutcome``, ``RecordsPushed``) for the
SubscribeToShard.* and SubscribeToShardEvent.* metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shardflow import errors
from shardflow.engine import dry_run
from shardflow.engine.events import Event, EventBus, RecordsIn, RecordsPushed, SubscribeOutcome
from shardflow.engine.limits import Limiter, TokenBucket
from shardflow.engine.streams import RegisteredConsumer, Shard, Stream
from shardflow.engine.tenancy import account_or
from shardflow.model import sequence
from shardflow.model.enums import ConsumerStatus

if TYPE_CHECKING:
    from shardflow.engine.reading import ReadResult, ReadShard, StartPosition

MAX_DURATION_S = 300.0  # AWS: a subscription lasts up to 5 minutes
HEARTBEAT_S = 5.0  # at least one event this often, records or not
TAKEOVER_AFTER_S = 5.0  # a second subscription within this is refused, after it takes over
RECHECK_S = 1.0  # look for a shard closed by resharding (no event announces it)
EVENT_MAX_RECORDS = 10_000
EVENT_MAX_BYTES = 2 * 1024 * 1024  # one second of a consumer's read rate
FANOUT_BYTES_PER_S = 2.0 * 1024 * 1024  # AWS: per consumer per shard
SUBSCRIBE_CALLS_PER_S = 1.0  # AWS: SubscribeToShard calls per consumer per shard
CALL_BUCKETS_PRUNE_AT = 10_000  # past this many (consumer, shard) buckets, forget the idle ones


@dataclass(slots=True)
class Delivery:
    """One thing to send: records (or a heartbeat) from a read, or the error ending the stream."""

    result: ReadResult | None = None
    continuation: str | None = None  # None at the end of a closed shard
    error: errors.KinesisError | None = None


@dataclass(eq=False)
class Subscription:
    key: tuple[str, int]  # (consumer ARN, shard uid)
    stream: Stream
    shard: Shard
    consumer: RegisteredConsumer
    position: int
    started: float = field(default_factory=time.monotonic)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    superseded: errors.KinesisError | None = None
    max_duration_s: float = MAX_DURATION_S


class Subscriptions:
    def __init__(
        self,
        *,
        account_id: str,
        max_duration_s: float,
        limits: Limiter,
        events: EventBus,
        find_consumer: Callable[[str], tuple[Stream, RegisteredConsumer]],
        stream_named: Callable[[str], Stream | None],
        start_position: StartPosition,
        read_shard: ReadShard,
    ) -> None:
        self._account_id = account_id
        self._limits = limits
        self._events = events
        self._find_consumer = find_consumer
        self._stream_named = stream_named
        self._start_position = start_position
        self._read_shard = read_shard
        self.active: dict[tuple[str, int], Subscription] = {}
        self._by_shard: dict[tuple[str, str], set[Subscription]] = {}
        self._calls: dict[tuple[str, int], TokenBucket] = {}  # the 1 call/s per consumer and shard
        # ``serve --testing-subscription-max-s`` shortens it so clients' resubscription is testable
        self.max_duration_s = max_duration_s
        # the server lowers it to what a stream may hold undelivered (server.flow)
        self.event_max_bytes = EVENT_MAX_BYTES

    # -- starting ----------------------------------------------------------------------------

    def start(self, params: dict[str, Any]) -> Subscription:
        """Check a SubscribeToShard request and register its subscription (raises AWS errors).

        In order: the consumer (registered, ACTIVE), the shard and the starting position (a dry
        run stops there), the call rate, the 5-second rule. Every call past the consumer lookup,
        dry runs excepted, is reported as a ``SubscribeOutcome`` event.
        """
        arn = params["ConsumerARN"]
        stream, consumer = self._find_consumer(arn)
        if dry_run.requested(params):
            self._resolve(params, stream, consumer)
            dry_run.conclude(self._limits, stream.name)
        try:
            shard, position = self._resolve(params, stream, consumer)
        except errors.KinesisError:
            self._report(stream, consumer, success=False, rate_exceeded=False)
            raise
        key = (arn, shard.uid)
        refusal = self._refusal(key, stream, shard, consumer)
        if refusal is not None:
            self._report(stream, consumer, success=False, rate_exceeded=True)
            raise refusal
        previous = self.active.get(key)
        if previous is not None:  # 5 s or more old: taken over
            previous.superseded = errors.ResourceInUseException(
                self._in_use_message(stream, shard, consumer)
            )
            previous.wake.set()
            self._detach(previous)
        sub = Subscription(
            key, stream, shard, consumer, position, max_duration_s=self.max_duration_s
        )
        self._attach(sub)
        self._report(stream, consumer, success=True, rate_exceeded=False)
        return sub

    def _resolve(
        self, params: dict[str, Any], stream: Stream, consumer: RegisteredConsumer
    ) -> tuple[Shard, int]:
        """The shard and starting position the request asks for (checks the consumer's status)."""
        if consumer.status(stream.clock.now_ms()) != ConsumerStatus.ACTIVE:
            raise errors.ResourceInUseException(
                f"Consumer {consumer.name} with creation timestamp {consumer.created_ms // 1000}"
                f" under stream: {stream.name} , account {account_or(self._account_id)} is not in"
                " ACTIVE status."
            )
        position_spec = params["StartingPosition"]
        _, shard, position = self._start_position(
            {
                "StreamName": stream.name,
                "ShardId": params["ShardId"],
                "ShardIteratorType": position_spec["Type"],
                "StartingSequenceNumber": position_spec.get("SequenceNumber"),
                "Timestamp": position_spec.get("Timestamp"),
            },
            operation="SubscribeToShard",
        )
        return shard, position

    def _refusal(
        self, key: tuple[str, int], stream: Stream, shard: Shard, consumer: RegisteredConsumer
    ) -> errors.KinesisError | None:
        """Over the call rate (checked first, as a throttle is), or within 5 s of a success."""
        now = time.monotonic()
        limits = self._limits
        if limits.enabled:
            bucket = self._calls.get(key)
            if bucket is None:
                if len(self._calls) >= CALL_BUCKETS_PRUNE_AT:
                    self._prune_calls(now)
                rate = SUBSCRIBE_CALLS_PER_S * limits.scale
                bucket = self._calls[key] = TokenBucket.full(rate, now)
            if not bucket.take(1, now):
                return errors.LimitExceededException(
                    f"Rate exceeded for consumer {consumer.name} and shard {shard.shard_id}"
                    f" in stream {stream.name} under account {account_or(self._account_id)}."
                )
        previous = self.active.get(key)
        if previous is not None and now - previous.started < TAKEOVER_AFTER_S:
            return errors.ResourceInUseException(self._in_use_message(stream, shard, consumer))
        return None

    def _in_use_message(self, stream: Stream, shard: Shard, consumer: RegisteredConsumer) -> str:
        account = account_or(self._account_id)
        return (
            f"Another active subscription exists for this consumer:"
            f" {account}:{stream.name}:{shard.shard_id}:{consumer.name}"
        )

    def _prune_calls(self, now: float) -> None:
        """Forget the call buckets that are full again: they would admit the next call anyway."""
        for key, bucket in list(self._calls.items()):
            bucket.refill(now)
            if bucket.is_full:
                del self._calls[key]

    def _report(
        self, stream: Stream, consumer: RegisteredConsumer, success: bool, rate_exceeded: bool
    ) -> None:
        bus = self._events
        if bus.active:
            bus.emit(SubscribeOutcome(stream.name, consumer.name, success, rate_exceeded))

    def _attach(self, sub: Subscription) -> None:
        if not self.active:
            self._events.subscribe(self._on_event)
        self.active[sub.key] = sub
        self._by_shard.setdefault((sub.stream.name, sub.shard.shard_id), set()).add(sub)

    def _detach(self, sub: Subscription) -> None:
        if self.active.get(sub.key) is sub:
            del self.active[sub.key]
        waiting = self._by_shard.get((sub.stream.name, sub.shard.shard_id))
        if waiting is not None:
            waiting.discard(sub)
            if not waiting:
                del self._by_shard[(sub.stream.name, sub.shard.shard_id)]
        if not self.active:
            with contextlib.suppress(ValueError):
                self._events.unsubscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RecordsIn):
            for sub in self._by_shard.get((event.stream, event.shard_id), ()):
                sub.wake.set()

    # -- running -----------------------------------------------------------------------------

    async def run(self, sub: Subscription) -> AsyncIterator[Delivery]:
        """The subscription's deliveries until it ends (time, shard end, takeover, deletion)."""
        limits = self._limits
        bus = self._events
        rate = FANOUT_BYTES_PER_S * limits.scale
        tokens = rate  # one second of burst
        stamp = time.monotonic()
        deadline = sub.started + sub.max_duration_s
        last_sent = float("-inf")
        try:
            while True:
                if sub.superseded is not None:
                    yield Delivery(error=sub.superseded)
                    return
                if not self._still_valid(sub):
                    return
                now = time.monotonic()
                if limits.enabled:
                    tokens = min(rate, tokens + (now - stamp) * rate)
                    stamp = now
                    if tokens <= 0:  # paced: wait until the bucket is out of debt
                        await asyncio.sleep(min(-tokens / rate, max(0.0, deadline - now)))
                        if time.monotonic() >= deadline:
                            return
                        continue
                sub.wake.clear()  # before the read: records stored after it wake us
                cap = self.event_max_bytes
                max_bytes = min(cap, int(tokens)) if limits.enabled else cap
                try:
                    result = self._read_shard(
                        sub.stream, sub.shard, sub.position, EVENT_MAX_RECORDS, max(max_bytes, 1)
                    )
                except errors.InternalFailureException as exc:  # a damaged record: never sent
                    yield Delivery(error=exc)
                    return
                at_end = result.next_iterator is None
                if result.records or at_end or now - last_sent >= HEARTBEAT_S:
                    if result.records:
                        sub.position = result.records[-1].position + 1
                        if limits.enabled:
                            tokens -= result.size  # data + UTF-8 keys, measured by the read
                    continuation = None
                    if not at_end:
                        last = max(sub.position - 1, sub.shard.start_position)
                        continuation = sequence.encode(sub.shard.index, last)
                    if bus.active:
                        bus.emit(_pushed(sub, result))
                    yield Delivery(result=result, continuation=continuation)
                    last_sent = time.monotonic()
                    if at_end:
                        return
                    if result.records:
                        continue  # there may be more right away
                now = time.monotonic()
                if now >= deadline:
                    return
                timeout = min(RECHECK_S, HEARTBEAT_S - (now - last_sent), deadline - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.wake.wait(), max(timeout, 0.0))
        finally:
            self._detach(sub)

    def _still_valid(self, sub: Subscription) -> bool:
        """The stream still exists and the consumer is still registered and ACTIVE."""
        stream = self._stream_named(sub.stream.name)
        if stream is not sub.stream or stream.is_gone():
            return False
        return (
            sub.consumer in stream.consumers
            and sub.consumer.status(stream.clock.now_ms()) == ConsumerStatus.ACTIVE
        )


def _pushed(sub: Subscription, result: ReadResult) -> RecordsPushed:
    return RecordsPushed(
        sub.stream.name,
        sub.shard.shard_id,
        sub.consumer.name,
        len(result.records),
        result.size,
        result.millis_behind_latest,
    )
