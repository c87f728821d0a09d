"""Delivery to a general purpose S3 bucket: validated records batched into objects named by
the channel's key template, compressed as configured; bad records to the dead-letter queue.

Each cycle delivers the store positions ``(delivered, pending]``: ``pending`` is stored before
the objects are written and ``delivered`` after (``storage.channels``), and object keys are
fixed by the range, so a delivery cut short by a crash is redone into the same keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shardflow.delivery import dead_letter, formats
from shardflow.delivery.dead_letter import Failure
from shardflow.delivery.s3 import S3Writer
from shardflow.delivery.source import Delivered, collect
from shardflow.engine.channel_model import Channel
from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Stream
from shardflow.model import key_template
from shardflow.storage.channels import ChannelStore

MAX_OBJECT_BYTES = 64 * 1024 * 1024  # uncompressed bytes per object before a new one starts


class S3Sink:
    def __init__(
        self,
        channel: Channel,
        s3: S3Writer,
        store: ChannelStore,
        read_shard: ReadShard,
        committed_position: Callable[[], Awaitable[int]],
    ) -> None:
        self._channel = channel
        self._s3 = s3
        self._store = store
        self._read_shard = read_shard
        self._committed_position = committed_position

    async def problem(self) -> str | None:
        storage = self._channel.destination["StorageConfiguration"]
        dlq = self._channel.dead_letter
        for arn, owner in (
            (storage["BucketARN"], storage["ExpectedBucketOwner"]),
            (dlq["BucketARN"], dlq["ExpectedBucketOwner"]),
        ):
            why = await asyncio.to_thread(self._s3.problem, arn, owner)
            if why is not None:
                return why
        return None

    async def deliver(self, stream: Stream) -> bool:
        """One delivery cycle; True if it stopped short of the stream's end (a full cycle)."""
        channel = self._channel
        position = await asyncio.to_thread(self._store.position, channel.channel_id)
        delivered, pending = position if position is not None else (channel.start_position, None)
        if pending is None:
            pending = await self._committed_position()
            if pending <= delivered:
                return False
            await asyncio.to_thread(self._store.begin, channel.channel_id, delivered, pending)
        records, reached = await collect(stream, self._read_shard, delivered, pending)
        fmt = channel.record_configuration["RecordFormatType"]
        good: list[Delivered] = []
        bad: list[Failure] = []
        for r in records:
            why = formats.problem(fmt, r.data)
            if why is None:
                good.append(r)
            else:
                bad.append((r, f"Invalid{fmt.title().replace('_', '')}Record", why))
        for chunk in _chunks(good):
            await self._put(stream, chunk)
        await dead_letter.write(self._s3, channel, bad, delivered, reached)
        await asyncio.to_thread(self._store.finish, channel.channel_id, reached)
        return reached < pending

    async def _put(self, stream: Stream, chunk: list[Delivered]) -> None:
        channel = self._channel
        storage = channel.destination["StorageConfiguration"]
        fmt = channel.record_configuration["RecordFormatType"]
        compression = storage["CompressionType"]
        key = key_template.render(
            storage.get("OutputKeyTemplate") or key_template.DEFAULT_TEMPLATE,
            channel_name=channel.name,
            channel_id=channel.channel_id,
            stream_name=stream.name,
            oldest_arrival_ms=min(r.arrival_ms for r in chunk),
            extension=formats.extension(fmt, compression),
            suffix=f"-{chunk[0].position}-{chunk[-1].position}",
        )
        body = formats.compress(compression, formats.body(fmt, chunk))
        await asyncio.to_thread(
            self._s3.put,
            storage["BucketARN"],
            storage["ExpectedBucketOwner"],
            key,
            body,
            storage.get("StorageClass"),
        )


def _chunks(records: list[Delivered]) -> list[list[Delivered]]:
    """Records cut into objects of at most ``MAX_OBJECT_BYTES`` (by position, so the cut is
    the same when a range is delivered again)."""
    out: list[list[Delivered]] = []
    size = 0
    for r in records:
        if not out or size + len(r.data) > MAX_OBJECT_BYTES:
            out.append([])
            size = 0
        out[-1].append(r)
        size += len(r.data) + 1
    return out
