"""``GET /metrics``: the recorder's figures in the Prometheus text format (prometheus-client).

A custom collector reads the recorder at scrape time, so the request path never touches
prometheus-client. Names follow Prometheus conventions (``shardflow_`` prefix, base units,
``_total`` counters, labels ``stream``, ``shard``, ``operation``); docs/monitoring.md maps each
to its CloudWatch name. Counters start at zero when the server starts, as Prometheus expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from shardflow.engine.streams import Stream
from shardflow.metrics.recorder import DURATION_BUCKETS_S, STREAM_LEVEL, MetricsRecorder

CONTENT_TYPE = CONTENT_TYPE_LATEST

# (Prometheus name without _total, CloudWatch shard-level name, help)
_SHARD_COUNTERS = (
    ("shardflow_incoming_records", "IncomingRecords", "Records put into the shard."),
    ("shardflow_incoming_bytes", "IncomingBytes", "Bytes (data + partition key) put."),
    ("shardflow_outgoing_records", "OutgoingRecords", "Records returned by GetRecords."),
    ("shardflow_outgoing_bytes", "OutgoingBytes", "Bytes returned by GetRecords."),
)
_THROTTLE_COUNTERS = (
    (
        "shardflow_write_provisioned_throughput_exceeded",
        "WriteProvisionedThroughputExceeded",
        "Records refused for throughput; shard is empty when a whole call was refused.",
    ),
    (
        "shardflow_read_provisioned_throughput_exceeded",
        "ReadProvisionedThroughputExceeded",
        "GetRecords calls refused for throughput; shard is empty when not known.",
    ),
)
_PUT_RECORDS_OUTCOMES = (
    ("successful", "PutRecords.SuccessfulRecords"),
    ("failed", "PutRecords.FailedRecords"),
    ("throttled", "PutRecords.ThrottledRecords"),
)


class ShardflowCollector(Collector):
    def __init__(self, recorder: MetricsRecorder, streams: Callable[[], list[Stream]]) -> None:
        self.recorder = recorder
        self.streams = streams

    def collect(self) -> Iterator[Metric]:
        yield from self._stream_info()
        totals = self.recorder.totals()
        for name, cloudwatch, doc in _SHARD_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["stream", "shard"])
            for stream, point in sorted(totals.items()):
                for level, metrics in sorted(point.items()):
                    stat = metrics.get(cloudwatch)
                    if level != STREAM_LEVEL and stat is not None:
                        family.add_metric([stream, level], stat[1])
            yield family
        for name, cloudwatch, doc in _THROTTLE_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["stream", "shard"])
            for stream, point in sorted(totals.items()):
                whole = point.get(STREAM_LEVEL, {}).get(cloudwatch)
                if whole is None:
                    continue
                per_shard = 0.0
                for level, metrics in sorted(point.items()):
                    stat = metrics.get(cloudwatch)
                    if level != STREAM_LEVEL and stat is not None:
                        family.add_metric([stream, level], stat[1])
                        per_shard += stat[1]
                if whole[1] > per_shard:
                    family.add_metric([stream, ""], whole[1] - per_shard)
            yield family
        put_bytes = CounterMetricFamily(
            "shardflow_put_bytes",
            "Bytes stored, by operation (CloudWatch PutRecord.Bytes, PutRecords.Bytes).",
            labels=["stream", "operation"],
        )
        entries = CounterMetricFamily(
            "shardflow_put_records_entries",
            "PutRecords entries by outcome (failed: internal failures; throttled: throughput).",
            labels=["stream", "outcome"],
        )
        for stream, point in sorted(totals.items()):
            metrics = point.get(STREAM_LEVEL, {})
            for op in ("PutRecord", "PutRecords"):
                stat = metrics.get(f"{op}.Bytes")
                if stat is not None:
                    put_bytes.add_metric([stream, op], stat[1])
            for outcome, cloudwatch in _PUT_RECORDS_OUTCOMES:
                stat = metrics.get(cloudwatch)
                if stat is not None:
                    entries.add_metric([stream, outcome], stat[1])
        yield put_bytes
        yield entries
        yield from self._calls()
        age = GaugeMetricFamily(
            "shardflow_iterator_age_seconds",
            "MillisBehindLatest of the last GetRecords call on the shard, in seconds.",
            labels=["stream", "shard"],
        )
        for (stream, shard), ms in sorted(self.recorder.iterator_ages().items()):
            age.add_metric([stream, shard], ms / 1000.0)
        yield age

    def _calls(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "shardflow_requests",
            "API calls by outcome: success, or the AWS error type.",
            labels=["stream", "operation", "outcome"],
        )
        for (stream, op, outcome), n in sorted(self.recorder.calls().items()):
            requests.add_metric([stream, op, outcome], n)
        yield requests
        durations = HistogramMetricFamily(
            "shardflow_request_duration_seconds",
            "Time from request received to response ready, per call.",
            labels=["stream", "operation"],
        )
        for (stream, op), hist in sorted(self.recorder.durations().items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip(DURATION_BUCKETS_S, hist, strict=False):
                cumulative += count
                buckets.append((_le(bound), cumulative))
            cumulative += hist[len(DURATION_BUCKETS_S)]
            buckets.append(("+Inf", cumulative))
            durations.add_metric([stream, op], buckets, hist[-1])
        yield durations

    def _stream_info(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "shardflow_stream_info",
            "1 for every stream, with its status and capacity mode.",
            labels=["stream", "status", "mode"],
        )
        shards = GaugeMetricFamily(
            "shardflow_stream_shards",
            "Shards of the stream: open ones take writes, closed ones await retention.",
            labels=["stream", "state"],
        )
        retention = GaugeMetricFamily(
            "shardflow_stream_retention_seconds",
            "How long the stream keeps records.",
            labels=["stream"],
        )
        for stream in self.streams():
            info.add_metric([stream.name, stream.current_status(), stream.mode], 1)
            open_count = stream.open_shard_count
            shards.add_metric([stream.name, "open"], open_count)
            shards.add_metric([stream.name, "closed"], len(stream.shards) - open_count)
            retention.add_metric([stream.name], stream.retention_hours * 3600)
        yield info
        yield shards
        yield retention


def _le(bound: float) -> str:
    return repr(float(bound))


def make_registry(
    recorder: MetricsRecorder, streams: Callable[[], list[Stream]]
) -> CollectorRegistry:
    """A registry with Shardflow's collector and the standard process and Python ones."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShardflowCollector(recorder, streams))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return bytes(generate_latest(registry))
