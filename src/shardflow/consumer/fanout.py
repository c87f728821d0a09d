"""Enhanced fan-out: the registered stream consumer, and one shard's SubscribeToShard loop.

A fan-out reader is a drop-in for the GetRecords reader (``reader.ShardReader``): same start
(the checkpoint, AT_SEQUENCE_NUMBER so that an aggregate holding it is read again; else the
configured start), same pages (an event's records are a GetRecords page), same outcomes
(SHARD_END, AT_TIP). What differs is how records arrive: pushed over an HTTP/2-or-1.1 event
stream that AWS ends after 5 minutes, after which the reader subscribes again after the
event's ContinuationSequenceNumber. At a shard's end the last event has ChildShards and no
continuation; the consumer's coordination then starts the children once every parent is done,
as it does for polling.

AWS allows one SubscribeToShard call per second per consumer and shard
(LimitExceededException), and one subscription at a time (ResourceInUseException for 5
seconds, then the newer call takes over): the reader paces its calls and backs off on both.

botocore's event stream is blocking, so each subscription is iterated in a thread of its own
pool, one ``next()`` at a time: a slow application stops the reads, and the server's TCP
window holds the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

import urllib3
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from shardflow.consumer.config import ConsumerConfig
from shardflow.consumer.errors import ConsumerError, ReadError, error_code, translate
from shardflow.consumer.limits import Backoff
from shardflow.consumer.reader import AT_TIP, SHARD_END
from shardflow.consumer.records import Batch, Position, unpack
from shardflow.model.enums import ConsumerStatus

log = logging.getLogger("shardflow.consumer")

Call = Callable[..., Awaitable[dict[str, Any]]]

SUBSCRIBE_INTERVAL_S = 1.0  # AWS: one SubscribeToShard call per second per consumer and shard
REGISTER_TIMEOUT_S = 120.0  # AWS takes seconds to make a consumer ACTIVE; give up after this
# Errors that end a subscription but not the reading: subscribe again after a backoff.
RESUBSCRIBE_CODES = {"ResourceInUseException", "LimitExceededException"}
_DONE = object()


class FanOutUnsupported(ConsumerError):
    """The endpoint has no enhanced fan-out (RegisterStreamConsumer or SubscribeToShard)."""


async def stream_consumer(
    call: Call, stream_arn: str, name: str, *, timeout: float = REGISTER_TIMEOUT_S
) -> str:
    """The ARN of the stream's ACTIVE consumer ``name``, registered first if it is missing.

    Several workers may start at once: a registration that loses the race
    (ResourceInUseException) waits for the winner's consumer. A consumer being deleted is
    waited out and registered again.
    """
    deadline = time.monotonic() + timeout
    backoff = Backoff(base=0.2, cap=2.0)
    while True:
        status = await _consumer_status(call, stream_arn, name)
        if status is not None and status[0] == ConsumerStatus.ACTIVE:
            return status[1]
        if status is None:
            try:
                await call("register_stream_consumer", StreamARN=stream_arn, ConsumerName=name)
                log.info("registered stream consumer %s", name)
                continue
            except ClientError as exc:
                code = error_code(exc)
                if code in ("UnknownOperationException", "InvalidAction"):
                    raise FanOutUnsupported(
                        f"the endpoint has no enhanced fan-out (RegisterStreamConsumer: {code})"
                    ) from None
                if code not in RESUBSCRIBE_CODES:
                    raise _error(exc, stream_arn) from None
        if time.monotonic() > deadline:
            state = status[0] if status else "missing"
            raise ConsumerError(f"stream consumer {name} is still {state} after {timeout:.0f}s")
        await asyncio.sleep(backoff.next())


async def _consumer_status(call: Call, stream_arn: str, name: str) -> tuple[str, str] | None:
    """(ConsumerStatus, ConsumerARN), or None when no such consumer is registered."""
    while True:
        try:
            page = await call("describe_stream_consumer", StreamARN=stream_arn, ConsumerName=name)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                return None
            if code in ("UnknownOperationException", "InvalidAction"):
                raise FanOutUnsupported(
                    f"the endpoint has no enhanced fan-out (DescribeStreamConsumer: {code})"
                ) from None
            if code != "LimitExceededException":
                raise _error(exc, stream_arn) from None
            await asyncio.sleep(SUBSCRIBE_INTERVAL_S)
            continue
        description = page["ConsumerDescription"]
        return str(description["ConsumerStatus"]), str(description["ConsumerARN"])


async def deregister(call: Call, consumer_arn: str) -> None:
    """Deregister the stream consumer (idempotent: a missing one is fine)."""
    try:
        await call("deregister_stream_consumer", ConsumerARN=consumer_arn)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise _error(exc, consumer_arn) from None


def _error(exc: ClientError, where: str) -> ConsumerError:
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    return ReadError(f"{code} ({where}): {message}", code=code)


class FanOutReader:
    """Reads one shard through SubscribeToShard until its end (or the tip, with stop_at_tip)."""

    def __init__(
        self,
        *,
        stream: str,
        shard_id: str,
        checkpoint: Position | None,
        consumer_arn: str,
        call: Call,
        deliver: Callable[[Batch], Awaitable[None]],
        config: ConsumerConfig,
        events_pool: Executor,
        endpoint: str | None = None,
        hash_range: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self.checkpoint = checkpoint
        self.consumer_arn = consumer_arn
        self._call = call
        self._deliver = deliver
        self.config = config
        self._pool = events_pool
        self.endpoint = endpoint
        self.hash_range = hash_range  # as ShardReader's: None keeps every aggregated record
        self._clock = clock
        self.millis_behind_latest: int | None = None
        self.last_read: str | None = None  # sequence number of the last Kinesis record read
        self.continuation: str | None = None  # where the next subscription starts after
        self.children: list[str] = []  # ChildShards of the last event, at the shard's end
        self.subscriptions = 0  # successful SubscribeToShard calls
        self.refused = 0  # calls refused with ResourceInUseException / LimitExceededException
        self.events = 0
        self._after = checkpoint  # records at or below it were processed before (see unpack)
        self._last_call = float("-inf")

    def _starting_position(self) -> dict[str, Any]:
        if self.continuation is not None or self.last_read is not None:
            after = self.continuation or self.last_read
            return {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        if self.checkpoint is not None:
            # AT, not AFTER: the checkpoint may sit inside an aggregate (see records.unpack).
            return {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": self.checkpoint.sequence_number}
        if isinstance(self.config.start, datetime):
            return {"Type": "AT_TIMESTAMP", "Timestamp": self.config.start}
        return {"Type": "LATEST" if self.config.start == "latest" else "TRIM_HORIZON"}

    async def run(self) -> str:
        """Subscribe, read, subscribe again, until SHARD_END (or AT_TIP with stop_at_tip)."""
        backoff = Backoff(base=SUBSCRIBE_INTERVAL_S, cap=10 * SUBSCRIBE_INTERVAL_S)
        while True:
            wait = self._last_call + SUBSCRIBE_INTERVAL_S - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                events = await self._subscribe()
            except ConsumerError as err:
                if not err.retriable:
                    raise
                await self._back_off(backoff, "SubscribeToShard", err)
                continue
            try:
                outcome = await self._read(events)
            except ConsumerError:
                raise
            except Exception as exc:  # an error event, or the connection broke mid-stream
                await self._back_off(backoff, "event stream", self._translate(exc))
                continue
            finally:
                _abort(events)
            if outcome is not None:
                return outcome
            backoff.reset()  # the subscription ran its course: subscribe again after it

    async def _subscribe(self) -> Any:
        position = self._starting_position()
        try:
            page = await self._call(
                "subscribe_to_shard",
                ConsumerARN=self.consumer_arn,
                ShardId=self.shard_id,
                StartingPosition=position,
            )
        except Exception as exc:
            raise self._translate(exc) from None
        finally:
            # Stamped once answered: the server counted the call before that, so the next one
            # reaches it at least SUBSCRIBE_INTERVAL_S later whatever the network's delays.
            self._last_call = self._clock()
        self.subscriptions += 1
        log.debug("%s: subscribed at %s", self.shard_id, position)
        return page["EventStream"]

    def _translate(self, exc: BaseException) -> ConsumerError:
        code = error_code(exc)
        if code in RESUBSCRIBE_CODES:
            self.refused += 1
            return ReadError(f"{code}: {_message(exc)}", code=code, retriable=True)
        if code in ("UnknownOperationException", "InvalidAction"):
            return FanOutUnsupported(f"the endpoint has no SubscribeToShard ({code})")
        if code == "ResourceNotFoundException":  # the consumer, the shard or the stream is gone
            return ReadError(f"{code}: {_message(exc)}", code=code)
        if isinstance(exc, ResponseParserError) and "initial-response" in str(exc):
            # AWS opens every event stream with an initial-response event; boto3 requires it.
            return FanOutUnsupported(
                "the endpoint's SubscribeToShard answer is not AWS's event stream"
                f" (botocore: {exc}); read it without --fan-out"
            )
        if isinstance(exc, OSError | urllib3.exceptions.HTTPError):
            return ReadError(f"connection lost: {exc}", retriable=True)
        return translate(exc, stream=self.stream, endpoint=self.endpoint)

    async def _back_off(self, backoff: Backoff, what: str, err: ConsumerError) -> None:
        if not err.retriable:
            raise err
        wait = backoff.next()
        level = logging.INFO if backoff.attempts <= 3 else logging.WARNING
        log.log(level, "%s %s: %s; subscribing again in %.2fs", self.shard_id, what, err, wait)
        await asyncio.sleep(wait)

    async def _read(self, events: Any) -> str | None:
        """Deliver the subscription's events; an outcome, or None when it ended (5 minutes)."""
        async for event in self._events(events):
            body = event.get("SubscribeToShardEvent")
            if body is None:
                continue
            self.events += 1
            raw: list[dict[str, Any]] = body.get("Records") or []
            millis = body.get("MillisBehindLatest")
            self.millis_behind_latest = millis
            if raw:
                await self._deliver_page(raw, millis or 0)
            continuation = body.get("ContinuationSequenceNumber")
            children = body.get("ChildShards") or []
            if continuation is None or children:
                self.children = sorted(c["ShardId"] for c in children)
                log.info("%s: shard end; children %s", self.shard_id, self.children or "none")
                return SHARD_END
            self.continuation = continuation
            if self.config.stop_at_tip and not raw and millis == 0:
                return AT_TIP
        return None

    async def _deliver_page(self, raw: list[dict[str, Any]], millis: int) -> None:
        config, after = self.config, self._after
        batch: Batch | None
        if after is None:
            batch = Batch.of_page(self.shard_id, raw, millis, config.deaggregate, self.hash_range)
        else:  # the first records after resuming: drop what was checkpointed
            records = unpack(
                self.shard_id,
                raw,
                deaggregate_records=config.deaggregate,
                after=after,
                hash_range=self.hash_range,
            )
            batch = Batch(self.shard_id, records, millis) if records else None
            self._after = None
        self.last_read = raw[-1]["SequenceNumber"]
        if batch is not None:
            await self._deliver(batch)

    async def _events(self, events: Any) -> AsyncIterator[dict[str, Any]]:
        """The event stream's events, each read by a thread of the pool."""
        loop = asyncio.get_running_loop()
        it = iter(events)
        while True:
            event = await loop.run_in_executor(self._pool, next, it, _DONE)
            if not isinstance(event, dict):  # _DONE: the server ended the stream
                return
            yield event


def _message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def _abort(events: Any) -> None:
    """Close a subscription's connection now, waking a thread blocked reading it.

    Closing alone leaves a blocked recv() waiting for the next event (up to 5 s); shutting the
    socket down ends it at once. The socket is botocore's (urllib3's) and not public, so this is
    best effort, and closing is what matters.
    """
    raw = getattr(events, "_raw_stream", None)
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        events.close()
