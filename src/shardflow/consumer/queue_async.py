"""``QueueConsumer`` for asyncio: the same receive, process, acknowledge loop with an ``async``
``process``; botocore calls run in a thread pool (as ``AsyncConsumer``'s do), so a long poll
never blocks the event loop.

    async with AsyncQueueConsumer(queue_arn, endpoint_url=...) as consumer:
        await consumer.run(handle, concurrency=4)   # 4 receive loops at once
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shardflow.consumer.queue_consumer import Progress, QueueConsumer, QueueRecord


class AsyncQueueConsumer:
    def __init__(
        self,
        queue_arn: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        wait_s: int = 9,
        visibility_s: int | None = None,
        extend_after_s: float | None = None,
        threads: int = 8,
    ) -> None:
        self._sync = QueueConsumer(
            queue_arn,
            client=client,
            endpoint_url=endpoint_url,
            region=region,
            wait_s=wait_s,
            visibility_s=visibility_s,
        )
        self.extend_after_s = extend_after_s
        self.progress = Progress()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="queue-consumer")
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> AsyncQueueConsumer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        self._stopping.set()

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    async def receive(self, limit: int = 10) -> list[QueueRecord]:
        result: list[QueueRecord] = await self._call(self._sync.receive, limit)
        return result

    async def acknowledge(self, records: Iterable[QueueRecord]) -> list[QueueRecord]:
        result: list[QueueRecord] = await self._call(self._sync.acknowledge, list(records))
        return result

    async def extend(self, records: Iterable[QueueRecord], seconds: int) -> list[QueueRecord]:
        result: list[QueueRecord] = await self._call(self._sync.extend, list(records), seconds)
        return result

    async def run(
        self,
        process: Callable[[QueueRecord], Awaitable[None]],
        *,
        concurrency: int = 1,
        max_records: int | None = None,
    ) -> Progress:
        """``concurrency`` receive loops until ``stop()`` or ``max_records`` received."""

        async def loop() -> None:
            while not self._stopping.is_set():
                if max_records is not None and self.progress.received >= max_records:
                    return
                records = await self.receive()
                if not records:
                    self.progress.empty_receives += 1
                    continue
                self.progress.received += len(records)
                done = await self._process(records, process)
                refused = await self.acknowledge(done) if done else []
                self.progress.acknowledged += len(done) - len(refused)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return self.progress

    async def _process(
        self, records: list[QueueRecord], process: Callable[[QueueRecord], Awaitable[None]]
    ) -> list[QueueRecord]:
        pending = {r.receipt_handle: r for r in records}
        heartbeat = None
        if self.extend_after_s is not None:
            every, seconds = self.extend_after_s, self._sync.visibility_s or 30

            async def beat() -> None:
                while True:
                    await asyncio.sleep(every)
                    if pending:
                        await self.extend(list(pending.values()), seconds)

            heartbeat = asyncio.create_task(beat())
        done = []
        try:
            for record in records:
                try:
                    await process(record)
                except Exception:
                    self.progress.failed += 1
                else:
                    done.append(record)
                pending.pop(record.receipt_handle, None)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        return done
