"""The recorder's history on disk, written by one background thread, never on the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shardflow.metrics.history import MINUTE_HISTORY_S, SECOND_HISTORY_S
from shardflow.metrics.store import MetricsStore, Row


def _horizons(now: int) -> tuple[int, int]:
    """The oldest second and minute the history keeps at ``now``."""
    return now - SECOND_HISTORY_S, now - now % 60 - MINUTE_HISTORY_S


class Persister:
    """``MetricsStore`` behind its own thread: open and load, save, close."""

    def __init__(self, path: Path) -> None:
        self._store = MetricsStore(path)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="shardflow-metrics")

    async def open(self, now: int) -> list[Row]:
        """Open the file; the rows still inside the history's horizons at ``now``."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._store.open)
        return await loop.run_in_executor(self._executor, self._store.load, *_horizons(now))

    async def save(self, rows: list[Row], now: int) -> None:
        """Write ``rows`` and forget what fell out of the history at ``now``."""
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self._store.save, rows, *_horizons(now)
        )

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._store.close)
        self._executor.shutdown()
