"""The metrics the AWS console shows for a stream (CloudWatch namespace AWS/Kinesis).

Each has the unit CloudWatch reports and the statistic the console charts: ``Sum`` for counts
and bytes, ``Average`` for latency and success (the success rate, 0 to 1), ``Maximum`` for
iterator age. Every data point keeps samples, sum, minimum and maximum, so any statistic can be
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

SUM, AVERAGE, MAXIMUM = "Sum", "Average", "Maximum"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    unit: str  # CloudWatch's unit name
    statistic: str  # the one the console charts
    description: str


def _m(name: str, unit: str, statistic: str, description: str) -> MetricInfo:
    return MetricInfo(name, unit, statistic, description)


STREAM_METRICS: tuple[MetricInfo, ...] = (
    _m("IncomingBytes", "Bytes", SUM, "bytes put (PutRecord and PutRecords)"),
    _m("IncomingRecords", "Count", SUM, "records put (PutRecord and PutRecords)"),
    _m("PutRecord.Bytes", "Bytes", SUM, "bytes put by PutRecord"),
    _m("PutRecord.Latency", "Milliseconds", AVERAGE, "time per PutRecord call"),
    _m("PutRecord.Success", "Count", AVERAGE, "share of PutRecord calls that succeeded"),
    _m("PutRecords.Bytes", "Bytes", SUM, "bytes put by PutRecords"),
    _m("PutRecords.Latency", "Milliseconds", AVERAGE, "time per PutRecords call"),
    _m("PutRecords.Records", "Count", SUM, "records stored by PutRecords (deprecated name)"),
    _m("PutRecords.Success", "Count", AVERAGE, "share of PutRecords calls storing a record"),
    _m("PutRecords.SuccessfulRecords", "Count", SUM, "PutRecords entries stored"),
    _m("PutRecords.FailedRecords", "Count", SUM, "PutRecords entries failed internally"),
    _m("PutRecords.ThrottledRecords", "Count", SUM, "PutRecords entries throttled"),
    _m("PutRecords.TotalRecords", "Count", SUM, "PutRecords entries sent"),
    _m("GetRecords.Bytes", "Bytes", SUM, "bytes returned by GetRecords"),
    _m("GetRecords.Latency", "Milliseconds", AVERAGE, "time per GetRecords call"),
    _m("GetRecords.Records", "Count", SUM, "records returned by GetRecords"),
    _m("GetRecords.Success", "Count", AVERAGE, "share of GetRecords calls that succeeded"),
    _m(
        "GetRecords.IteratorAgeMilliseconds",
        "Milliseconds",
        MAXIMUM,
        "how far GetRecords readers are behind the newest record",
    ),
    _m("ReadProvisionedThroughputExceeded", "Count", SUM, "GetRecords calls throttled"),
    _m("WriteProvisionedThroughputExceeded", "Count", SUM, "records refused by throttling"),
)

# Enhanced (shard-level) monitoring: kept only while EnableEnhancedMonitoring has them on.
SHARD_METRICS: tuple[MetricInfo, ...] = (
    _m("IncomingBytes", "Bytes", SUM, "bytes put into the shard"),
    _m("IncomingRecords", "Count", SUM, "records put into the shard"),
    _m("IteratorAgeMilliseconds", "Milliseconds", MAXIMUM, "age of the last record read"),
    _m("OutgoingBytes", "Bytes", SUM, "bytes read from the shard"),
    _m("OutgoingRecords", "Count", SUM, "records read from the shard"),
    _m("ReadProvisionedThroughputExceeded", "Count", SUM, "GetRecords calls throttled"),
    _m("WriteProvisionedThroughputExceeded", "Count", SUM, "records refused by throttling"),
)

# Enhanced fan-out, per consumer (CloudWatch dimensions StreamName and ConsumerName). AWS names no
# statistic for the console: Sum for counts and bytes, Average for the success rate, Maximum for
# how far behind, as for the stream's metrics.
CONSUMER_METRICS: tuple[MetricInfo, ...] = (
    _m("SubscribeToShard.RateExceeded", "Count", SUM, "calls refused: over 1/s, or in use"),
    _m("SubscribeToShard.Success", "Count", AVERAGE, "share of calls that subscribed"),
    _m("SubscribeToShardEvent.Bytes", "Bytes", SUM, "bytes pushed to the consumer"),
    _m(
        "SubscribeToShardEvent.MillisBehindLatest",
        "Milliseconds",
        MAXIMUM,
        "how far the consumer's events are behind the newest record",
    ),
    _m("SubscribeToShardEvent.Records", "Count", SUM, "records pushed to the consumer"),
    _m("SubscribeToShardEvent.Success", "Count", SUM, "events pushed to the consumer"),
)

STREAM_BY_NAME = {m.name: m for m in STREAM_METRICS}
SHARD_BY_NAME = {m.name: m for m in SHARD_METRICS}
CONSUMER_BY_NAME = {m.name: m for m in CONSUMER_METRICS}


def statistic(stat: list[float], which: str) -> float | None:
    """One statistic of a data point ``[samples, sum, min, max]``; None when it has no samples."""
    if which == SUM:
        return stat[1]
    if not stat[0]:
        return None
    if which == AVERAGE:
        return stat[1] / stat[0]
    return stat[3]
