"""A stream's figures for ``shardflow metrics``, read where AWS keeps them: CloudWatch and Kinesis.

The stream's description comes from Kinesis (DescribeStreamSummary, ListShards, and ListQueues for
an ON_DEMAND stream's queues), its figures from CloudWatch (ListMetrics for the shards and consumers
with data, GetMetricData for the series; queue metrics have no StreamName, so they are read by
the listed queues' QueueId and QueueName), so the same command reads a Shardflow server (which
answers both APIs on one port) or AWS itself.
The result has the shape of the dashboard's JSON (``/dashboard/api/metrics``), which ``render``
draws.

Per metric, the console's statistic per interval of the range (1 s, or 1 min for ``1d``); the
total over the range includes the interval in progress. Averages are folded from Sum and
SampleCount, so the total is exact, not an average of averages.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shardflow.metrics import table
from shardflow.metrics.points import CONSUMER_LEVEL as CONSUMER_PREFIX
from shardflow.metrics.points import QUEUE_LEVEL as QUEUE_PREFIX
from shardflow.metrics.series import RANGES  # as the dashboard's ranges
from shardflow.metrics.table import AVERAGE, MAXIMUM, NAMESPACE, SUM, MetricInfo
from shardflow.model.enums import StreamMode

MAX_QUERIES = 500  # GetMetricData's limit per call
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints per call
_STATISTICS = {SUM: ("Sum",), AVERAGE: ("Sum", "SampleCount"), MAXIMUM: ("Maximum",)}


class NoSuchStream(LookupError):
    """Neither Kinesis nor CloudWatch knows the stream."""


@dataclass(frozen=True)
class _Series:
    key: str  # "" the stream, a shard id, "consumer/NAME" or "queue/QUEUE_ID/QUEUE_NAME"
    info: MetricInfo
    dimensions: tuple[tuple[str, str], ...]


def read(
    kinesis: Any, cloudwatch: Any, stream: str, range_name: str, now: float | None = None
) -> dict[str, Any]:
    """The stream's series and totals over ``range_name``, as the dashboard's JSON has them."""
    step, count = RANGES[range_name]
    now = time.time() if now is None else now
    end = int(now) - int(now) % step  # the interval in progress starts here
    start = end - step * count
    summary, shard_ids = _describe(kinesis, stream)
    queues = _queues(kinesis, summary) if summary else []
    listed = _listed(cloudwatch, stream)
    if summary is None and not listed:
        raise NoSuchStream(stream)
    enabled = list(summary["shard_level_metrics"]) if summary else []
    shard_ids = sorted(set(shard_ids) | {v for k, v in listed if k == "ShardId"})
    consumers = sorted({v for k, v in listed if k == "ConsumerName"})
    base = (("StreamName", stream),)
    series = [_Series("", m, base) for m in table.STREAM_METRICS]
    series += [
        _Series(shard, m, (*base, ("ShardId", shard)))
        for shard in shard_ids
        for m in table.SHARD_METRICS
    ]
    series += [
        _Series(CONSUMER_PREFIX + c, m, (*base, ("ConsumerName", c)))
        for c in consumers
        for m in table.CONSUMER_METRICS
    ]
    series += [
        _Series(f"{QUEUE_PREFIX}{queue_id}/{name}", m, (("QueueId", queue_id), ("QueueName", name)))
        for queue_id, name in queues
        for m in table.QUEUE_METRICS
    ]
    data = _fetch(cloudwatch, series, start, end + step, step)
    blocks: dict[str, dict[str, Any]] = {}
    has_data: set[tuple[str, str]] = set()
    for s in series:
        points = data[s]
        if points:
            has_data.add((s.key, s.info.name))
        blocks.setdefault(s.key, {})[s.info.name] = _block(s.info, points, start, end, step, count)
    shown = {
        m.name
        for m in table.SHARD_METRICS
        if m.name in enabled or any((shard, m.name) in has_data for shard in shard_ids)
    }
    return {
        "stream": stream,
        "range": range_name,
        "step_s": step,
        "start": start,
        "end": end,
        "timestamps": list(range(start, end, step)),
        "metrics": blocks[""],
        "shard_level_metrics": enabled,
        "shards": {
            shard: {m.name: blocks[shard][m.name] for m in table.SHARD_METRICS if m.name in shown}
            for shard in shard_ids
        }
        if shown
        else {},
        "consumers": {
            c: blocks[CONSUMER_PREFIX + c]
            for c in consumers
            if any(key == CONSUMER_PREFIX + c for key, _ in has_data)
        },
        "queues": {  # "<queue id>/<queue name>", as the dashboard's JSON keys them
            f"{queue_id}/{name}": blocks[f"{QUEUE_PREFIX}{queue_id}/{name}"]
            for queue_id, name in queues
        },
        "summary": summary,
    }


def _describe(kinesis: Any, stream: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The stream's summary as the dashboard shows it, and its shard ids; None if it is gone."""
    try:
        found = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    except kinesis.exceptions.ResourceNotFoundException:
        return None, []
    shard_ids: list[str] = []
    args: dict[str, Any] = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**args)
        shard_ids += [shard["ShardId"] for shard in page["Shards"]]
        if not page.get("NextToken"):
            break
        args = {"NextToken": page["NextToken"]}
    monitoring = found.get("EnhancedMonitoring") or [{}]
    open_shards = int(found["OpenShardCount"])
    summary = {
        "name": stream,
        "arn": found["StreamARN"],
        "status": found["StreamStatus"],
        "mode": (found.get("StreamModeDetails") or {}).get("StreamMode", StreamMode.PROVISIONED),
        "open_shards": open_shards,
        "closed_shards": max(len(shard_ids) - open_shards, 0),
        "retention_hours": found["RetentionPeriodHours"],
        "created": found["StreamCreationTimestamp"].timestamp(),
        "shard_level_metrics": list(monitoring[0].get("ShardLevelMetrics", [])),
    }
    return summary, shard_ids


def _queues(kinesis: Any, summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(queue id, queue name) of the stream's queues; only ON_DEMAND streams can have any."""
    if summary["mode"] != "ON_DEMAND":
        return []
    found: list[tuple[str, str]] = []
    args: dict[str, Any] = {"StreamFilter": [{"StreamARN": summary["arn"]}]}
    while True:
        page = kinesis.list_queues(**args)
        found += [
            (q["QueueARN"].rpartition("/")[2], q["QueueName"]) for q in page["QueueSummaries"]
        ]
        if not page.get("NextToken"):
            return sorted(found, key=lambda q: (q[1], q[0]))
        args["NextToken"] = page["NextToken"]


def _listed(cloudwatch: Any, stream: str) -> set[tuple[str, str]]:
    """The (dimension name, value) pairs of the stream's metrics with data (shards, consumers)."""
    found: set[tuple[str, str]] = set()
    args: dict[str, Any] = {
        "Namespace": NAMESPACE,
        "Dimensions": [{"Name": "StreamName", "Value": stream}],
    }
    while True:
        page = cloudwatch.list_metrics(**args)
        for metric in page["Metrics"]:
            for dim in metric["Dimensions"]:
                found.add((dim["Name"], dim["Value"]))
        if not page.get("NextToken"):
            return found
        args["NextToken"] = page["NextToken"]


def _fetch(
    cloudwatch: Any, series: list[_Series], start: int, end: int, step: int
) -> dict[_Series, dict[int, dict[str, float]]]:
    """Per series: interval start -> {statistic: value}, over [start, end)."""
    queries: list[tuple[_Series, str, dict[str, Any]]] = []
    for s in series:
        metric = {
            "Namespace": NAMESPACE,
            "MetricName": s.info.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in s.dimensions],
        }
        for statistic in _STATISTICS[s.info.statistic]:
            query = {
                "Id": f"q{len(queries)}",
                "MetricStat": {"Metric": metric, "Period": step, "Stat": statistic},
            }
            queries.append((s, statistic, query))
    per_query = (end - start) // step + 1
    batch = max(1, min(MAX_QUERIES, MAX_DATAPOINTS // per_query))
    out: dict[_Series, dict[int, dict[str, float]]] = {s: {} for s in series}
    for chunk in _chunks(queries, batch):
        by_id = {query["Id"]: (s, statistic) for s, statistic, query in chunk}
        args: dict[str, Any] = {
            "MetricDataQueries": [query for _, _, query in chunk],
            "StartTime": start,
            "EndTime": end,
        }
        while True:
            page = cloudwatch.get_metric_data(**args)
            for result in page["MetricDataResults"]:
                s, statistic = by_id[result["Id"]]
                for when, value in zip(result["Timestamps"], result["Values"], strict=True):
                    out[s].setdefault(int(when.timestamp()), {})[statistic] = value
            if not page.get("NextToken"):
                break
            args["NextToken"] = page["NextToken"]
    return out


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _block(
    info: MetricInfo,
    points: dict[int, dict[str, float]],
    start: int,
    end: int,
    step: int,
    count: int,
) -> dict[str, Any]:
    """One metric as the dashboard's JSON has it: values per closed interval, and the total."""
    values: list[float | None] = [0 if info.statistic == SUM else None] * count
    for ts, stats in points.items():
        if start <= ts < end:
            values[(ts - start) // step] = _interval(info, stats)
    total: float | None
    if info.statistic == SUM:
        total = sum(stats.get("Sum", 0.0) for stats in points.values())
    elif info.statistic == AVERAGE:
        samples = sum(stats.get("SampleCount", 0.0) for stats in points.values())
        summed = sum(stats.get("Sum", 0.0) for stats in points.values())
        total = summed / samples if samples else None
    else:
        maxima = [stats["Maximum"] for stats in points.values() if "Maximum" in stats]
        total = max(maxima) if maxima else None
    return {
        "unit": info.unit,
        "statistic": info.statistic,
        "values": values,
        "total": _whole(total),
    }


def _interval(info: MetricInfo, stats: dict[str, float]) -> float | None:
    if info.statistic == AVERAGE:
        samples = stats.get("SampleCount", 0.0)
        return stats.get("Sum", 0.0) / samples if samples else None
    return _whole(stats.get(info.statistic))


def _whole(value: float | None) -> float | None:
    """CloudWatch answers doubles; a whole count prints as one (``1,234``, not ``1,234.00``)."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value
