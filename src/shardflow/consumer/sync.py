"""The blocking front-end: the asyncio consumer runs on a private event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from shardflow.consumer.config import ConsumerConfig
from shardflow.consumer.consumer import AsyncConsumer
from shardflow.consumer.records import Batch, Record
from shardflow.consumer.store import CheckpointStore

T = TypeVar("T")


class SyncConsumer:
    """``for batch in SyncConsumer("stream"):`` — same options and semantics as AsyncConsumer."""

    def __init__(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        *,
        store: CheckpointStore | None = None,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        **options: Any,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="shardflow-consumer", daemon=True
        )
        self._thread.start()
        self._async = self._run(
            self._make(stream, config, store, client, endpoint_url, region, options)
        )

    @staticmethod
    async def _make(*args: Any) -> AsyncConsumer:
        stream, config, store, client, endpoint_url, region, options = args
        return AsyncConsumer(
            stream,
            config,
            store=store,
            client=client,
            endpoint_url=endpoint_url,
            region=region,
            **options,
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def config(self) -> ConsumerConfig:
        return self._async.config

    def start(self) -> None:
        try:
            self._run(self._async.start())
        except BaseException:
            self.close(processed_last=False)
            raise

    def close(self, *, processed_last: bool = True) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._async.close(processed_last=processed_last))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> SyncConsumer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(processed_last=exc is None)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            try:
                yield self._run(self._async.__anext__())
            except StopAsyncIteration:
                return

    def records(self) -> Iterator[Record]:
        for batch in self:
            yield from batch.records

    def checkpoint(self, record: Record | Batch | None = None) -> None:
        self._run(self._async.checkpoint(record))

    def deregister_stream_consumer(self) -> None:
        """See AsyncConsumer.deregister_stream_consumer (``fan_out`` only)."""
        self._run(self._async.deregister_stream_consumer())

    @property
    def consumer_arn(self) -> str | None:
        return self._async.consumer_arn

    @property
    def millis_behind_latest(self) -> dict[str, int | None]:
        return self._async.millis_behind_latest

    @property
    def owned_shards(self) -> list[str]:
        return self._async.owned_shards

    @property
    def record_distribution(self) -> str:
        return self._async.record_distribution
