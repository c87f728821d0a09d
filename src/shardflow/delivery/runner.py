"""The delivery workers: one asyncio task per live channel.

A worker checks its destination while the channel is CREATING (ACTIVE if it can write there,
FAILED with the reason if not), then delivers every ``DataFreshnessInSeconds`` (times
``--channel-freshness-scale``): everything committed to the stream since its last delivery.
A failed delivery is logged and retried next cycle; the records wait in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shardflow.delivery.s3 import S3Writer
from shardflow.engine.channel_model import S3, Channel
from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Stream
from shardflow.storage.channels import ChannelStore

log = logging.getLogger(__name__)


class Sink(Protocol):
    async def problem(self) -> str | None: ...

    async def deliver(self, stream: Stream) -> bool: ...


SetStatus = Callable[[Channel, str, str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    region: str
    s3_endpoint_url: str | None  # None: botocore's own (AWS_ENDPOINT_URL_S3, or AWS)
    iceberg_warehouse: Path
    freshness_scale: float  # multiplies DataFreshnessInSeconds (tests run it fast)


class DeliveryRunner:
    """Starts, runs and stops the workers (the ``Deliveries`` port of ``engine.channels``)."""

    def __init__(
        self,
        settings: DeliverySettings,
        *,
        store: ChannelStore,
        read_shard: ReadShard,
        committed_position: Callable[[], Awaitable[int]],
        stream_at: Callable[[str], Stream | None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._read_shard = read_shard
        self._committed_position = committed_position
        self._stream_at = stream_at  # by ARN, whatever the request's tenant (none here)
        self._s3 = S3Writer(settings.region, settings.s3_endpoint_url)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.set_status: SetStatus | None = None  # engine.channels' verdict recorder

    def start(self, channel: Channel) -> None:
        if channel.channel_id not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._run(channel))
            self._tasks[channel.channel_id] = task

    async def stop(self, channel: Channel) -> None:
        task = self._tasks.pop(channel.channel_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop_all(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _sink(self, channel: Channel) -> Sink:
        if channel.destination_type == S3:
            from shardflow.delivery.s3_sink import S3Sink

            return S3Sink(
                channel, self._s3, self._store, self._read_shard, self._committed_position
            )
        from shardflow.delivery.iceberg_sink import IcebergSink

        return IcebergSink(
            channel,
            self._s3,
            self._settings.iceberg_warehouse,
            self._read_shard,
            self._committed_position,
        )

    async def _run(self, channel: Channel) -> None:
        assert self.set_status is not None
        sink = self._sink(channel)
        if channel.current_status() == "CREATING":
            try:
                why = await sink.problem()
            except Exception as exc:  # a damaged catalog, a full disk: say so, do not hang
                log.exception("channel %s: checking the destination failed", channel.name)
                why = f"Checking the destination failed: {exc}"
            if why is not None:
                log.warning("channel %s failed: %s", channel.name, why)
                await self.set_status(channel, "FAILED", why)
                return
            await self.set_status(channel, "ACTIVE", None)
        more = False
        while True:
            if not more:  # a cycle that stopped at its memory bound goes on at once
                await asyncio.sleep(channel.freshness_s * self._settings.freshness_scale)
            more = False
            stream = self._stream_at(channel.stream_arn)
            if stream is None or stream.is_gone():
                continue  # the stream is being deleted; the channel goes with it
            try:
                more = await sink.deliver(stream)
            except Exception:
                log.exception("channel %s: delivery failed; retrying next cycle", channel.name)
