"""``/metrics`` families about the data directory: damaged records refused, a full disk.

Read from the store at scrape time (nothing on the request path); registered next to the
stream metrics by ``dashboard.web``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shardflow.storage.diskspace import free_bytes
from shardflow.storage.sqlite import SqliteStore


class StorageHealthCollector(Collector):
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        store = self.store
        free = GaugeMetricFamily(
            "shardflow_data_dir_free_bytes",
            "Bytes free for the server on the data directory's filesystem.",
            labels=["directory"],
        )
        space = free_bytes(store.directory)
        if space is not None:
            free.add_metric([str(store.directory)], float(space))
        yield free
        yield GaugeMetricFamily(
            "shardflow_data_dir_full",
            "1 while writes are refused because the data directory's disk is full.",
            value=1.0 if store.disk.full else 0.0,
        )
        yield CounterMetricFamily(
            "shardflow_disk_full_episodes",
            "Times the data directory's disk became full (writes refused until space returned).",
            value=store.disk.episodes,
        )
        yield CounterMetricFamily(
            "shardflow_corrupt_record_reads",
            "Reads (GetRecords, SubscribeToShard) refused because a record failed its checksum.",
            value=store.corrupt_reads,
        )
        yield GaugeMetricFamily(
            "shardflow_read_only",
            "1 when the server started read-only with --accept-data-loss.",
            value=0.0 if store.read_only is None else 1.0,
        )
