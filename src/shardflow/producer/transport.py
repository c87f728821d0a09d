"""How calls reach Kinesis: a botocore client in a thread pool, or an async client awaited.

botocore clients are thread-safe, so one client serves every in-flight request from a pool of
threads (its connection pool sized to match). An aiobotocore client is recognised by its methods
returning awaitables and is awaited directly. A botocore client gets PutRecords bodies written
by ``request_body`` (cheaper than its own serializer).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shardflow.producer import request_body


class Transport:
    """Runs client operations from the event loop, whatever kind of client it is."""

    def __init__(self, client: Any, workers: int) -> None:
        self.client = client
        # aiobotocore's operation methods are plain functions returning coroutines; its
        # _make_api_call is a coroutine function.
        self.is_async = any(
            inspect.iscoroutinefunction(getattr(client, name, None))
            for name in ("put_records", "_make_api_call")
        )
        #: PutRecords bodies are written by ``request_body`` (botocore clients only).
        self.encodes_records = not self.is_async and request_body.install(client)
        self._executor: ThreadPoolExecutor | None = None
        if not self.is_async:
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="shardflow-producer")

    async def call(self, operation: str, **kwargs: Any) -> Any:
        method = getattr(self.client, operation)
        if self.is_async:
            result = method(**kwargs)
            return await result if inspect.isawaitable(result) else result
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, functools.partial(method, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
