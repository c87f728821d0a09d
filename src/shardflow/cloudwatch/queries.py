"""GetMetricStatistics, GetMetricData and ListMetrics over the recorder's figures (AWS/Kinesis).

Each operation checks its input and takes the points it needs on the event loop (closed points
are shared, the open one copied), then returns the work that turns them into the answer, to run
in the render thread. Only streams the recorder keeps have metrics (issue 21's bounds): a query
for any other name finds no data and keeps no state.

Data: the last hour at 1 s and the last day at 1 min. A ``Period`` that is a multiple of 60 reads
minutes, a shorter one seconds. As CloudWatch does, the start is rounded down (to the minute, or
to the period when it is shorter), periods are aligned on it, only periods with data are
returned, and the interval in progress counts with what it has so far.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shardflow.cloudwatch import errors
from shardflow.engine import tenancy
from shardflow.metrics import table
from shardflow.metrics.catalogue import Listing
from shardflow.metrics.points import CONSUMER_LEVEL, QUEUE_LEVEL, STREAM_LEVEL, add_stat
from shardflow.metrics.recorder import MetricsRecorder
from shardflow.metrics.stat import Stat

NAMESPACE = table.NAMESPACE
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
SHORT_PERIODS = (1, 5, 10, 20, 30)  # high-resolution periods; otherwise multiples of 60
MAX_STATISTICS_DATAPOINTS = 1440  # GetMetricStatistics, per call
MAX_QUERIES = 500  # GetMetricData's MetricDataQueries
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints
LIST_PAGE = 500  # ListMetrics returns up to 500 metrics per page
RECENTLY_ACTIVE_S = 3 * 3600  # ListMetrics RecentlyActive=PT3H
_PERCENTILE = re.compile(r"^(p|tm|wm|tc|ts|pr|tm|iqm)", re.IGNORECASE)

Work = Callable[[], dict[str, Any]]
# a dimension set -> the level of metrics it names
_KINDS: dict[frozenset[str | None], str] = {
    frozenset(names): kind for kind, names in table.DIMENSIONS.items()
}


@dataclass(frozen=True, slots=True)
class Metric:
    """One AWS/Kinesis metric of one dimension set, as the recorder keeps it."""

    stream: str
    level: str  # a Point's level: "" the stream, a shard id, or "consumer/NAME"
    name: str
    unit: str


def resolve(
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]],
    listing: Callable[[], Listing] = dict,
) -> Metric | None:
    """The metric a namespace, name and dimension set name; None if there is none such.

    Queue metrics name no stream (QueueId, QueueName): ``listing`` finds the stream whose
    figures hold that queue."""
    if namespace != NAMESPACE:
        return None
    dims = {d.get("Name"): d.get("Value") for d in dimensions}
    if _KINDS.get(frozenset(dims)) == table.QUEUE and len(dims) == len(dimensions):
        level = f"{QUEUE_LEVEL}{dims['QueueId']}/{dims['QueueName']}"
        info = table.QUEUE_BY_NAME.get(name)
        for stream, levels in listing().items():
            if level in levels and info is not None:
                return Metric(stream, level, name, info.unit)
        return None
    if len(dims) != len(dimensions) or not isinstance(dims.get("StreamName"), str):
        return None
    stream = tenancy.prefix() + str(dims["StreamName"])  # the caller's region's stream
    kind = _KINDS.get(frozenset(dims))
    if kind is None:
        return None
    info = table.BY_NAME[kind].get(name)
    if kind == table.SHARD:
        level = str(dims["ShardId"])
    elif kind == table.CONSUMER:
        level = CONSUMER_LEVEL + str(dims["ConsumerName"])
    else:
        level = STREAM_LEVEL
    return Metric(stream, level, name, info.unit) if info is not None else None


def _value(stat: Stat, statistic: str) -> float:
    if statistic == "SampleCount":
        return float(stat.count)
    if statistic == "Sum":
        return float(stat.sum)
    if statistic == "Minimum":
        return float(stat.min)
    if statistic == "Maximum":
        return float(stat.max)
    return stat.sum / stat.count if stat.count else 0.0


def _window(
    params: dict[str, Any], period: int, error: type[errors.CloudWatchError]
) -> tuple[int, int]:
    """(start, end) in whole seconds: the start rounded down as CloudWatch rounds it."""
    start, end = params["StartTime"], params["EndTime"]
    if start == end:
        raise error("The parameter StartTime must not equal parameter EndTime.")
    if start > end:
        raise error("The parameter StartTime must be less than the parameter EndTime.")
    step = period if period < 60 else 60
    return int(start // step * step), math.ceil(end)


def _period(value: Any, where: str, error: type[errors.CloudWatchError]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise error(f"The parameter {where} must be greater than 0.")
    if value not in SHORT_PERIODS and value % 60:
        raise error(f"The parameter {where} must be 1, 5, 10, 20, 30, or a multiple of 60.")
    return value


def _buckets(
    recorder: MetricsRecorder, metric: Metric, start: int, end: int, period: int
) -> Callable[[], dict[int, Stat]]:
    """Take the points now; the returned function folds them into one stat per period."""
    resolution = 60 if period % 60 == 0 else 1
    # a stream the recorder does not keep has no points, and asking keeps nothing
    points = recorder.points(metric.stream, start, end, resolution)

    def fold() -> dict[int, Stat]:
        out: dict[int, dict[str, Stat]] = {}
        for ts, point in points:
            stat = point.get(metric.level, {}).get(metric.name)
            if stat is not None:
                bucket = start + (ts - start) // period * period
                add_stat(out.setdefault(bucket, {}), "s", stat)
        return {ts: m["s"] for ts, m in out.items()}

    return fold


def _required(params: dict[str, Any], *keys: str) -> None:
    missing = [key for key in keys if params.get(key) is None]
    if missing:
        raise errors.MissingParameter(
            "\n".join(f"The parameter {key} is required." for key in missing)
        )


def get_metric_statistics(recorder: MetricsRecorder, params: dict[str, Any]) -> Work:
    _required(params, "Namespace", "MetricName", "StartTime", "EndTime", "Period")
    statistics = params.get("Statistics") or []
    if params.get("ExtendedStatistics"):
        raise errors.InvalidParameterValue(
            "Shardflow keeps no distributions: ExtendedStatistics (percentiles) are not"
            " available; use Statistics."
        )
    if not statistics:
        raise errors.InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics."
        )
    for i, statistic in enumerate(statistics, 1):
        if statistic not in STATISTICS:
            raise errors.InvalidParameterValue(
                f"The parameter Statistics.member.{i} must be a value in the set"
                f" [{', '.join(STATISTICS)}]."
            )
    period = _period(params["Period"], "Period", errors.InvalidParameterValue)
    start, end = _window(params, period, errors.InvalidParameterValue)
    wanted = math.ceil((end - start) / period)
    if wanted > MAX_STATISTICS_DATAPOINTS:
        raise errors.InvalidParameterCombination(
            f"You have requested up to {wanted:,} datapoints, which exceeds the limit of"
            f" {MAX_STATISTICS_DATAPOINTS:,}. You may reduce the datapoints requested by"
            " increasing Period, or decreasing the time range."
        )
    name = params["MetricName"]
    metric = resolve(params["Namespace"], name, params.get("Dimensions") or [], recorder.listing)
    unit = params.get("Unit")
    if metric is None or (unit is not None and unit != metric.unit):
        return lambda: {"Label": name, "Datapoints": []}
    fold = _buckets(recorder, metric, start, end, period)

    def work() -> dict[str, Any]:
        datapoints = []
        for ts, stat in sorted(fold().items()):
            point: dict[str, Any] = {"Timestamp": float(ts), "Unit": metric.unit}
            for statistic in statistics:
                point[statistic] = _value(stat, statistic)
            datapoints.append(point)
        return {"Label": name, "Datapoints": datapoints}

    return work


def get_metric_data(recorder: MetricsRecorder, params: dict[str, Any]) -> Work:
    error = errors.ValidationError
    _required(params, "MetricDataQueries", "StartTime", "EndTime")
    queries = params["MetricDataQueries"]
    if len(queries) > MAX_QUERIES:
        raise error(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    if params.get("NextToken") is not None:
        raise errors.InvalidNextToken("The service returned no NextToken, so none is valid.")
    descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
    limit = params.get("MaxDatapoints") or MAX_DATAPOINTS
    jobs: list[tuple[str, str, str, Callable[[], dict[int, Stat]] | None]] = []
    seen_ids: set[str] = set()
    window: tuple[int, int] | None = None
    for i, query in enumerate(queries, 1):
        where = f"MetricDataQueries.member.{i}"
        query_id = query.get("Id")
        if not query_id:
            raise errors.MissingParameter(f"The parameter {where}.Id is required.")
        if query_id in seen_ids:
            raise error(f"The value {query_id} for parameter {where}.Id is not unique.")
        seen_ids.add(query_id)
        if query.get("Expression") is not None:
            raise error(
                f"Shardflow does not evaluate metric math: {where}.Expression is not supported;"
                " give MetricStat."
            )
        stat_query = query.get("MetricStat")
        if stat_query is None:
            raise error(f"The parameter {where}.MetricStat is required.")
        statistic = stat_query.get("Stat")
        if statistic not in STATISTICS:
            extended = isinstance(statistic, str) and _PERCENTILE.match(statistic)
            raise error(
                f"Shardflow keeps no distributions: {where}.MetricStat.Stat {statistic} is not"
                " available."
                if extended
                else f"The value {statistic} for parameter {where}.MetricStat.Stat is not a"
                " valid statistic."
            )
        period = _period(stat_query.get("Period"), f"{where}.MetricStat.Period", error)
        start, end = _window(params, period, error)
        window = window or (start, end)
        spec = stat_query.get("Metric") or {}
        name = spec.get("MetricName", "")
        metric = resolve(
            spec.get("Namespace", ""), name, spec.get("Dimensions") or [], recorder.listing
        )
        unit = stat_query.get("Unit")
        fold = None
        if metric is not None and (unit is None or unit == metric.unit):
            fold = _buckets(recorder, metric, start, end, period)
        if query.get("ReturnData", True):
            jobs.append((query_id, query.get("Label") or name, statistic, fold))

    def work() -> dict[str, Any]:
        results = []
        budget = limit
        for query_id, label, statistic, fold in jobs:
            stats = sorted((fold() if fold is not None else {}).items(), reverse=descending)
            complete = len(stats) <= budget
            stats = stats[: max(budget, 0)]
            budget -= len(stats)
            results.append(
                {
                    "Id": query_id,
                    "Label": label,
                    "Timestamps": [float(ts) for ts, _ in stats],
                    "Values": [_value(stat, statistic) for _, stat in stats],
                    "StatusCode": "Complete" if complete else "PartialData",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    return work


def _dimensions(stream: str, level: str) -> list[dict[str, str]]:
    if level.startswith(QUEUE_LEVEL):
        queue_id, _, queue_name = level.removeprefix(QUEUE_LEVEL).partition("/")
        return [{"Name": "QueueId", "Value": queue_id}, {"Name": "QueueName", "Value": queue_name}]
    dims = [{"Name": "StreamName", "Value": stream}]
    if level.startswith(CONSUMER_LEVEL):
        dims.append({"Name": "ConsumerName", "Value": level.removeprefix(CONSUMER_LEVEL)})
    elif level != STREAM_LEVEL:
        dims.append({"Name": "ShardId", "Value": level})
    return dims


def list_metrics(recorder: MetricsRecorder, params: dict[str, Any], now: float) -> Work:
    namespace = params.get("Namespace")
    name = params.get("MetricName")
    filters = params.get("Dimensions") or []
    for i, spec in enumerate(filters, 1):
        if not spec.get("Name"):
            raise errors.MissingParameter(f"The parameter Dimensions.member.{i}.Name is required.")
    recent = params.get("RecentlyActive")
    if recent is not None and recent != "PT3H":
        raise errors.InvalidParameterValue(
            "The parameter RecentlyActive must be a value in the set [PT3H]."
        )
    offset = _offset(params.get("NextToken"))
    listing = _own(recorder.listing()) if namespace in (None, NAMESPACE) else {}
    since = now - RECENTLY_ACTIVE_S if recent else -math.inf

    def work() -> dict[str, Any]:
        found = []
        for stream in sorted(listing):
            for level, metrics in sorted(listing[stream].items()):
                dims = _dimensions(stream, level)
                values = {d["Name"]: d["Value"] for d in dims}
                if not all(
                    f["Name"] in values and f.get("Value") in (None, values[f["Name"]])
                    for f in filters
                ):
                    continue
                for metric, last in sorted(metrics.items()):
                    if (name is None or metric == name) and last >= since:
                        found.append(
                            {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims}
                        )
        page = found[offset : offset + LIST_PAGE]
        out: dict[str, Any] = {"Metrics": page}
        if offset + LIST_PAGE < len(found):
            out["NextToken"] = base64.urlsafe_b64encode(str(offset + LIST_PAGE).encode()).decode()
        return out

    return work


def _own(listing: dict[str, Any]) -> dict[str, Any]:
    """The caller's account's and region's streams, by their plain names (engine.tenancy)."""
    start = tenancy.prefix()
    if not start:
        return {stream: levels for stream, levels in listing.items() if "/" not in stream}
    return {s.removeprefix(start): v for s, v in listing.items() if s.startswith(start)}


def _offset(token: Any) -> int:
    if token is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(token).encode()).decode())
    except ValueError:
        raise errors.InvalidParameterValue("The parameter NextToken is not valid.") from None
