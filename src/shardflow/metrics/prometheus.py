"""``GET /metrics``: the recorder's figures in the Prometheus text format (prometheus-client).

A custom collector reads a snapshot of the recorder taken at scrape time, and the text is
rendered in a worker thread, so the request path never touches prometheus-client and a scrape
never holds up other requests. Names follow Prometheus conventions (``shardflow_`` prefix, base
units, ``_total`` counters, labels ``stream``, ``shard``, ``operation``); docs/monitoring.md maps
each to its CloudWatch name. Counters start at zero when the server starts, as Prometheus expects.
Stream-level families are always there; the shard-level ones (``shardflow_shard_*``) only for the
metrics enabled on the stream with EnableEnhancedMonitoring, as CloudWatch's.
"""

from __future__ import annotations

from collections.abc import Iterator

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

from shardflow.metrics import table
from shardflow.metrics.points import CONSUMER_LEVEL, QUEUE_LEVEL, STREAM_LEVEL, Point, is_shard
from shardflow.metrics.rollup import DURATION_BUCKETS_S
from shardflow.metrics.snapshot import Snapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Counter families whose value is a metric's Sum, by level, from the one table: family name ->
# (help, the metrics in it); a family of several tells them apart by a label.
_Family = tuple[str, list[table.MetricInfo]]


def _families(metrics: tuple[table.MetricInfo, ...]) -> dict[str, _Family]:
    out: dict[str, _Family] = {}
    for m in metrics:
        if m.prometheus is not None:
            out.setdefault(m.prometheus, (m.help, []))[1].append(m)
    return out


_STREAM_FAMILIES = _families(table.STREAM_METRICS)
# Shard level (enhanced monitoring): a series only while its metric is enabled on the stream.
_SHARD_FAMILIES = _families(table.SHARD_METRICS)
_CONSUMER_FAMILIES = _families(table.CONSUMER_METRICS)
_QUEUE_FAMILIES = _families(table.QUEUE_METRICS)


class ShardflowCollector(Collector):
    """The figures of one snapshot (a collector per scrape: rendered in a worker thread)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from self._stream_info()
        yield from self._bounds()
        totals = self.snap.totals
        for name, (doc, metrics) in _STREAM_FAMILIES.items():
            label = metrics[0].label
            labels = ["stream"] if label is None else ["stream", label[0]]
            family = CounterMetricFamily(name, doc, labels=labels)
            for stream, point in sorted(totals.items()):
                mine = point.get(STREAM_LEVEL, {})
                for m in metrics:
                    stat = mine.get(m.name)
                    if stat is not None:
                        values = [stream] if m.label is None else [stream, m.label[1]]
                        family.add_metric(values, stat.sum)
            yield family
        yield from self._shard_level(totals)
        yield from self._consumers(totals)
        yield from self._queues(totals)
        yield from self._calls()
        age = GaugeMetricFamily(
            "shardflow_iterator_age_seconds",
            "Largest MillisBehindLatest of the last GetRecords call on each shard, in seconds.",
            labels=["stream"],
        )
        for stream, ms in sorted(self.snap.iterator_ages.items()):
            age.add_metric([stream], ms / 1000.0)
        yield age

    def _shard_level(self, totals: dict[str, Point]) -> Iterator[Metric]:
        """Enhanced monitoring: the enabled metrics of each stream, one series per shard."""
        enabled = self.snap.shard_metrics
        for name, (doc, (metric,)) in _SHARD_FAMILIES.items():
            cloudwatch = metric.name
            family = CounterMetricFamily(name, doc, labels=["stream", "shard"])
            for stream, point in sorted(totals.items()):
                if cloudwatch not in enabled.get(stream, ()):
                    continue
                for level, metrics in sorted(point.items()):
                    stat = metrics.get(cloudwatch)
                    if is_shard(level) and stat is not None:
                        family.add_metric([stream, level], stat.sum)
            yield family
        age = GaugeMetricFamily(
            "shardflow_shard_iterator_age_seconds",
            "MillisBehindLatest of the last GetRecords call on the shard, in seconds.",
            labels=["stream", "shard"],
        )
        for (stream, shard), ms in sorted(self.snap.shard_iterator_ages.items()):
            if "IteratorAgeMilliseconds" in enabled.get(stream, ()):
                age.add_metric([stream, shard], ms / 1000.0)
        yield age

    def _consumers(self, totals: dict[str, Point]) -> Iterator[Metric]:
        """Enhanced fan-out, per consumer: SubscribeToShard calls and the events pushed."""
        calls = CounterMetricFamily(
            "shardflow_subscribe_to_shard_calls",
            "SubscribeToShard calls for a registered consumer by outcome: success, rate_exceeded"
            " (over 1/s or another subscription active), failed (any other error).",
            labels=["stream", "consumer", "outcome"],
        )
        pushed = {
            metric.name: CounterMetricFamily(name, doc, labels=["stream", "consumer"])
            for name, (doc, (metric,)) in _CONSUMER_FAMILIES.items()
        }
        for stream, point in sorted(totals.items()):
            for level, metrics in sorted(point.items()):
                if not level.startswith(CONSUMER_LEVEL):
                    continue
                consumer = level.removeprefix(CONSUMER_LEVEL)
                success = metrics.get("SubscribeToShard.Success")
                if success is not None:
                    rate = metrics.get("SubscribeToShard.RateExceeded")
                    refused = rate.sum if rate is not None else 0.0
                    failed = success.count - success.sum - refused
                    calls.add_metric([stream, consumer, "success"], success.sum)
                    calls.add_metric([stream, consumer, "rate_exceeded"], refused)
                    calls.add_metric([stream, consumer, "failed"], failed)
                for cloudwatch, family in pushed.items():
                    stat = metrics.get(cloudwatch)
                    if stat is not None:
                        family.add_metric([stream, consumer], stat.sum)
        yield calls
        yield from pushed.values()
        behind = GaugeMetricFamily(
            "shardflow_subscription_behind_latest_seconds",
            "MillisBehindLatest of the last SubscribeToShardEvent pushed to the consumer for the"
            " shard, in seconds.",
            labels=["stream", "consumer", "shard"],
        )
        for (stream, consumer, shard), ms in sorted(self.snap.consumer_lags.items()):
            behind.add_metric([stream, consumer, shard], ms / 1000.0)
        yield behind

    def _queues(self, totals: dict[str, Point]) -> Iterator[Metric]:
        """Kinesis queues: records received and acknowledged, empty receives, and the last
        sampled counts of visible, in-flight and dead-letter records."""
        labels = ["stream", "queue_id", "queue"]
        counters = {
            metric.name: CounterMetricFamily(name, doc, labels=labels)
            for name, (doc, (metric,)) in _QUEUE_FAMILIES.items()
        }
        for stream, point in sorted(totals.items()):
            for level, metrics in sorted(point.items()):
                if level.startswith(QUEUE_LEVEL):
                    queue_id, _, name = level.removeprefix(QUEUE_LEVEL).partition("/")
                    for cloudwatch, family in counters.items():
                        stat = metrics.get(cloudwatch)
                        if stat is not None:
                            family.add_metric([stream, queue_id, name], stat.sum)
        yield from counters.values()
        gauges = [
            GaugeMetricFamily(
                "shardflow_queue_visible_records",
                "Records of the queue visible, ready to be received.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "shardflow_queue_in_flight_records",
                "Records of the queue received and not yet acknowledged.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "shardflow_queue_visible_dead_letter_records",
                "Dead-letter records of the queue visible.",
                labels=labels,
            ),
        ]
        for (stream, level), values in sorted(self.snap.queue_depths.items()):
            queue_id, _, name = level.removeprefix(QUEUE_LEVEL).partition("/")
            for gauge, value in zip(gauges, values, strict=True):
                gauge.add_metric([stream, queue_id, name], value)
        yield from gauges

    def _calls(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "shardflow_requests",
            "API calls by outcome: success, or the AWS error type.",
            labels=["stream", "operation", "outcome"],
        )
        for (stream, op, outcome), n in sorted(self.snap.calls.items()):
            requests.add_metric([stream, op, outcome], n)
        yield requests
        durations = HistogramMetricFamily(
            "shardflow_request_duration_seconds",
            "Time from request received to response ready, per call.",
            labels=["stream", "operation"],
        )
        for (stream, op), hist in sorted(self.snap.durations.items()):
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
        for stream in self.snap.streams:
            info.add_metric([stream.name, stream.status, stream.mode], 1)
            shards.add_metric([stream.name, "open"], stream.open_shards)
            shards.add_metric([stream.name, "closed"], stream.closed_shards)
            retention.add_metric([stream.name], stream.retention_hours * 3600)
        yield info
        yield shards
        yield retention

    def _bounds(self) -> Iterator[Metric]:
        """How close the recorder is to its cap on series (shardflow.metrics.bounds)."""
        yield GaugeMetricFamily(
            "shardflow_metrics_series",
            "Series (streams, shards, consumers) the metrics keep figures for.",
            value=self.snap.series,
        )
        yield GaugeMetricFamily(
            "shardflow_metrics_series_limit",
            "The most series the metrics keep; new ones beyond it are refused.",
            value=self.snap.max_series,
        )
        yield CounterMetricFamily(
            "shardflow_metrics_series_refused",
            "New series not kept because the limit was reached (their calls count under the"
            ' account, stream="").',
            value=self.snap.series_refused,
        )


def _le(bound: float) -> str:
    return repr(float(bound))


def render(snapshot: Snapshot, *extra: Collector) -> bytes:
    """The text of a scrape: Shardflow's figures, ``extra`` collectors, then the standard process
    and Python ones.

    Runs in a worker thread (web.py): it reads only the snapshot, plain counters and /proc.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShardflowCollector(snapshot))
    for collector in extra:
        registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return bytes(generate_latest(registry))
