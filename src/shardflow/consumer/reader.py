"""One shard's GetRecords loop: iterators, pacing, retries, deaggregation, hand-off.

The reader never decides what the application has processed; it only reads in order and hands
each page on. It stops at the shard's end (a null NextShardIterator), at the tip when asked to,
or when cancelled because its lease was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from shardflow.consumer.config import ITERATOR_REFRESH_S, ConsumerConfig
from shardflow.consumer.errors import (
    ConsumerError,
    EndpointUnreachable,
    ReadError,
    error_code,
    translate,
)
from shardflow.consumer.limits import Backoff, ReadPacer
from shardflow.consumer.records import Batch, Position, unpack

log = logging.getLogger("shardflow.consumer")

Call = Callable[..., Awaitable[dict[str, Any]]]

SHARD_END = "end"  # the shard is closed and every record was read
AT_TIP = "tip"  # caught up with an open shard (stop_at_tip)


class ShardReader:
    def __init__(
        self,
        *,
        stream: str,
        shard_id: str,
        checkpoint: Position | None,
        call: Call,
        deliver: Callable[[Batch], Awaitable[None]],
        config: ConsumerConfig,
        pacer: ReadPacer,
        endpoint: str | None = None,
        hash_range: tuple[int, int] | None = None,
    ) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self.checkpoint = checkpoint
        self._call = call
        self._deliver = deliver
        self.config = config
        self.pacer = pacer
        self.endpoint = endpoint
        #: The shard's hash-key range: aggregated user records outside it are dropped. None
        #: keeps them all (the stream places records itself: AUTO).
        self.hash_range = hash_range
        self.millis_behind_latest: int | None = None
        self.last_read: str | None = None  # sequence number of the last Kinesis record read
        self.calls = 0
        self.expired_iterators = 0

    async def _api(self, operation: str, **params: Any) -> dict[str, Any]:
        """One call, retried with backoff while the error says retrying can help."""
        backoff = Backoff()
        while True:
            try:
                return await self._call(operation, **params)
            except ClientError as exc:
                if error_code(exc) == "ExpiredIteratorException":
                    raise
                err = translate(exc, stream=self.stream, endpoint=self.endpoint)
            except ConsumerError as exc:
                err = exc
            except Exception as exc:
                err = translate(exc, stream=self.stream, endpoint=self.endpoint)
            if not err.retriable:
                raise err
            wait = backoff.next()
            level = logging.INFO if isinstance(err, ReadError) else logging.WARNING
            if isinstance(err, EndpointUnreachable) or backoff.attempts > 3:
                level = logging.WARNING
            log.log(level, "%s %s: %s; retrying in %.2fs", self.shard_id, operation, err, wait)
            await asyncio.sleep(wait)

    async def _iterator(self) -> str:
        """An iterator where reading should continue: after the last record read, else at the
        checkpoint, else at the configured start."""
        params: dict[str, Any] = {"StreamName": self.stream, "ShardId": self.shard_id}
        if self.last_read is not None:
            params.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=self.last_read
            )
        elif self.checkpoint is not None:
            # AT, not AFTER: the checkpoint may sit inside an aggregate (see records.unpack).
            params.update(
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=self.checkpoint.sequence_number,
            )
        elif isinstance(self.config.start, datetime):
            params.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.config.start)
        elif self.config.start == "latest":
            params["ShardIteratorType"] = "LATEST"
        else:
            params["ShardIteratorType"] = "TRIM_HORIZON"
        page = await self._api("get_shard_iterator", **params)
        return str(page["ShardIterator"])

    async def run(self) -> str:
        """Read until the shard ends (SHARD_END) or, with stop_at_tip, until caught up (AT_TIP)."""
        config, pacer = self.config, self.pacer
        after = self.checkpoint
        iterator: str | None = await self._iterator()
        issued = time.monotonic()
        while iterator is not None:
            if time.monotonic() - issued > ITERATOR_REFRESH_S:
                iterator, issued = await self._iterator(), time.monotonic()
            delay = pacer.delay()
            if delay > 0:
                await asyncio.sleep(delay)
            started = pacer.clock()
            try:
                page = await self._api("get_records", ShardIterator=iterator, Limit=config.limit)
            except ClientError:  # ExpiredIteratorException: continue after the last record read
                self.expired_iterators += 1
                log.info("%s: iterator expired; renewing after %s", self.shard_id, self.last_read)
                iterator, issued = await self._iterator(), time.monotonic()
                continue
            self.calls += 1
            raw = page["Records"]
            millis = page.get("MillisBehindLatest")
            self.millis_behind_latest = millis
            if raw:
                if pacer.paced:
                    nbytes = sum(len(r["Data"]) + len(r.get("PartitionKey", "")) for r in raw)
                    pacer.called(started, nbytes)
                batch: Batch | None
                if after is None:
                    batch = Batch.of_page(
                        self.shard_id, raw, millis or 0, config.deaggregate, self.hash_range
                    )
                else:  # the first page after resuming: drop what was checkpointed
                    records = unpack(
                        self.shard_id,
                        raw,
                        deaggregate_records=config.deaggregate,
                        after=after,
                        hash_range=self.hash_range,
                    )
                    batch = Batch(self.shard_id, records, millis or 0) if records else None
                    after = None
                self.last_read = raw[-1]["SequenceNumber"]
                if batch is not None:
                    await self._deliver(batch)
            else:
                pacer.called(started, 0)
            iterator, issued = page.get("NextShardIterator"), time.monotonic()
            if iterator is not None and not raw and millis == 0:
                if config.stop_at_tip:
                    return AT_TIP
                await asyncio.sleep(config.idle_interval)
        return SHARD_END
