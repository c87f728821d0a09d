"""The one table of metrics: every name a figure is published under, and how it is read.

Per metric: its CloudWatch name in namespace AWS/Kinesis and the level (dimension set) it has,
the unit CloudWatch reports, the statistic the console charts (``Sum`` for counts and bytes,
``Average`` for latency and success, the success rate from 0 to 1, ``Maximum`` for how far
behind), the Prometheus counter family it is exported as (if any) with its help text, and the
column label of ``shardflow metrics``. The recorder, ``GET /metrics``, the CloudWatch API, the
dashboard's JSON and the CLI all read it; a metric is added here, once.

Every data point keeps samples, sum, minimum and maximum (``Stat``), so any statistic can be
derived from it. Levels hold their metrics in the order the dashboard, the CLI and ``/metrics``
show them.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "AWS/Kinesis"
SUM, AVERAGE, MAXIMUM = "Sum", "Average", "Maximum"
STREAM, SHARD, CONSUMER, QUEUE = "stream", "shard", "consumer", "queue"
# the CloudWatch dimensions of each level
DIMENSIONS = {
    STREAM: ("StreamName",),
    SHARD: ("StreamName", "ShardId"),
    CONSUMER: ("StreamName", "ConsumerName"),
    QUEUE: ("QueueId", "QueueName"),  # AWS publishes queue metrics without StreamName
}


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str  # CloudWatch's metric name
    unit: str  # CloudWatch's unit name
    statistic: str  # the one the console charts
    description: str
    level: str = STREAM  # STREAM, SHARD or CONSUMER: which dimensions it has
    # The Prometheus counter family (without ``_total``) whose value is this metric's Sum, with
    # its help; ``label`` tells this metric apart within a family several metrics share.
    prometheus: str | None = None
    help: str = ""
    label: tuple[str, str] | None = None
    column: str = ""  # its column in ``shardflow metrics``' shard and consumer tables


def _m(
    name: str,
    unit: str,
    statistic: str,
    description: str,
    prometheus: str | None = None,
    help: str = "",
    label: tuple[str, str] | None = None,
) -> MetricInfo:
    return MetricInfo(name, unit, statistic, description, STREAM, prometheus, help, label)


def _shard(
    name: str,
    unit: str,
    statistic: str,
    description: str,
    column: str,
    prometheus: str | None = None,
    help: str = "",
) -> MetricInfo:
    return MetricInfo(name, unit, statistic, description, SHARD, prometheus, help, None, column)


def _consumer(
    name: str,
    unit: str,
    statistic: str,
    description: str,
    column: str,
    prometheus: str | None = None,
    help: str = "",
) -> MetricInfo:
    return MetricInfo(name, unit, statistic, description, CONSUMER, prometheus, help, None, column)


_PUT_BYTES_HELP = "Bytes stored, by operation (CloudWatch PutRecord.Bytes, PutRecords.Bytes)."
_ENTRIES_HELP = "PutRecords entries by outcome (failed: internal failures; throttled: throughput)."

STREAM_METRICS: tuple[MetricInfo, ...] = (
    _m(
        "IncomingBytes",
        "Bytes",
        SUM,
        "bytes put (PutRecord and PutRecords)",
        "shardflow_incoming_bytes",
        "Bytes (data + partition key) stored.",
    ),
    _m(
        "IncomingRecords",
        "Count",
        SUM,
        "records put (PutRecord and PutRecords)",
        "shardflow_incoming_records",
        "Records stored in the stream.",
    ),
    _m(
        "PutRecord.Bytes",
        "Bytes",
        SUM,
        "bytes put by PutRecord",
        "shardflow_put_bytes",
        _PUT_BYTES_HELP,
        ("operation", "PutRecord"),
    ),
    _m("PutRecord.Latency", "Milliseconds", AVERAGE, "time per PutRecord call"),
    _m("PutRecord.Success", "Count", AVERAGE, "share of PutRecord calls that succeeded"),
    _m(
        "PutRecords.Bytes",
        "Bytes",
        SUM,
        "bytes put by PutRecords",
        "shardflow_put_bytes",
        _PUT_BYTES_HELP,
        ("operation", "PutRecords"),
    ),
    _m("PutRecords.Latency", "Milliseconds", AVERAGE, "time per PutRecords call"),
    _m("PutRecords.Records", "Count", SUM, "records stored by PutRecords (deprecated name)"),
    _m("PutRecords.Success", "Count", AVERAGE, "share of PutRecords calls storing a record"),
    _m(
        "PutRecords.SuccessfulRecords",
        "Count",
        SUM,
        "PutRecords entries stored",
        "shardflow_put_records_entries",
        _ENTRIES_HELP,
        ("outcome", "successful"),
    ),
    _m(
        "PutRecords.FailedRecords",
        "Count",
        SUM,
        "PutRecords entries failed internally",
        "shardflow_put_records_entries",
        _ENTRIES_HELP,
        ("outcome", "failed"),
    ),
    _m(
        "PutRecords.ThrottledRecords",
        "Count",
        SUM,
        "PutRecords entries throttled",
        "shardflow_put_records_entries",
        _ENTRIES_HELP,
        ("outcome", "throttled"),
    ),
    _m("PutRecords.TotalRecords", "Count", SUM, "PutRecords entries sent"),
    _m(
        "GetRecords.Bytes",
        "Bytes",
        SUM,
        "bytes returned by GetRecords",
        "shardflow_outgoing_bytes",
        "Bytes returned by GetRecords.",
    ),
    _m("GetRecords.Latency", "Milliseconds", AVERAGE, "time per GetRecords call"),
    _m(
        "GetRecords.Records",
        "Count",
        SUM,
        "records returned by GetRecords",
        "shardflow_outgoing_records",
        "Records returned by GetRecords.",
    ),
    _m("GetRecords.Success", "Count", AVERAGE, "share of GetRecords calls that succeeded"),
    _m(
        "GetRecords.IteratorAgeMilliseconds",
        "Milliseconds",
        MAXIMUM,
        "how far GetRecords readers are behind the newest record",
    ),
    _m(
        "ReadProvisionedThroughputExceeded",
        "Count",
        SUM,
        "GetRecords calls throttled",
        "shardflow_read_provisioned_throughput_exceeded",
        "GetRecords calls refused for throughput.",
    ),
    _m(
        "WriteProvisionedThroughputExceeded",
        "Count",
        SUM,
        "records refused by throttling",
        "shardflow_write_provisioned_throughput_exceeded",
        "Records refused for throughput (PutRecords entries and whole PutRecord calls).",
    ),
)

# Enhanced (shard-level) monitoring: kept only while EnableEnhancedMonitoring has them on. A
# Prometheus series only while enabled: it counts what happened while enabled, so it resumes
# where it stopped when enabled again.
SHARD_METRICS: tuple[MetricInfo, ...] = (
    _shard(
        "IncomingRecords",
        "Count",
        SUM,
        "records put into the shard",
        "in rec",
        "shardflow_shard_incoming_records",
        "Records stored in the shard.",
    ),
    _shard(
        "IncomingBytes",
        "Bytes",
        SUM,
        "bytes put into the shard",
        "in bytes",
        "shardflow_shard_incoming_bytes",
        "Bytes (data + partition key) stored.",
    ),
    _shard(
        "OutgoingRecords",
        "Count",
        SUM,
        "records read from the shard",
        "out rec",
        "shardflow_shard_outgoing_records",
        "Records read from the shard.",
    ),
    _shard(
        "OutgoingBytes",
        "Bytes",
        SUM,
        "bytes read from the shard",
        "out bytes",
        "shardflow_shard_outgoing_bytes",
        "Bytes read from the shard.",
    ),
    _shard(
        "IteratorAgeMilliseconds", "Milliseconds", MAXIMUM, "age of the last record read", "age ms"
    ),
    _shard(
        "WriteProvisionedThroughputExceeded",
        "Count",
        SUM,
        "records refused by throttling",
        "w thr",
        "shardflow_shard_write_provisioned_throughput_exceeded",
        "PutRecords entries refused for the shard's throughput.",
    ),
    _shard(
        "ReadProvisionedThroughputExceeded",
        "Count",
        SUM,
        "GetRecords calls throttled",
        "r thr",
        "shardflow_shard_read_provisioned_throughput_exceeded",
        "GetRecords calls refused for the shard's throughput.",
    ),
)

# Enhanced fan-out, per consumer (CloudWatch dimensions StreamName and ConsumerName). AWS names no
# statistic for the console: Sum for counts and bytes, Average for the success rate, Maximum for
# how far behind, as for the stream's metrics.
CONSUMER_METRICS: tuple[MetricInfo, ...] = (
    _consumer(
        "SubscribeToShard.Success", "Count", AVERAGE, "share of calls that subscribed", "subscribed"
    ),
    _consumer(
        "SubscribeToShard.RateExceeded",
        "Count",
        SUM,
        "calls refused: over 1/s, or in use",
        "refused",
    ),
    _consumer(
        "SubscribeToShardEvent.Success",
        "Count",
        SUM,
        "events pushed to the consumer",
        "events",
        "shardflow_subscribe_to_shard_events",
        "SubscribeToShardEvent events pushed to the consumer (records or heartbeats).",
    ),
    _consumer(
        "SubscribeToShardEvent.Records",
        "Count",
        SUM,
        "records pushed to the consumer",
        "records",
        "shardflow_subscribe_to_shard_event_records",
        "Records pushed to the consumer.",
    ),
    _consumer(
        "SubscribeToShardEvent.Bytes",
        "Bytes",
        SUM,
        "bytes pushed to the consumer",
        "bytes",
        "shardflow_subscribe_to_shard_event_bytes",
        "Bytes (data + partition key) pushed to the consumer.",
    ),
    _consumer(
        "SubscribeToShardEvent.MillisBehindLatest",
        "Milliseconds",
        MAXIMUM,
        "how far the consumer's events are behind the newest record",
        "behind ms",
    ),
)


def _queue(
    name: str,
    statistic: str,
    description: str,
    column: str,
    prometheus: str | None = None,
    help: str = "",
) -> MetricInfo:
    return MetricInfo(name, "Count", statistic, description, QUEUE, prometheus, help, None, column)


# Kinesis queues (2026), per queue (CloudWatch dimensions QueueId and QueueName). The counts are
# sampled once a second while metrics are on; AWS caps the visible counts at 1,000,000.
QUEUE_METRICS: tuple[MetricInfo, ...] = (
    _queue(
        "ReceivedQueueRecords",
        SUM,
        "records received from the queue",
        "received",
        "shardflow_queue_received_records",
        "Records received from the queue (ReceiveQueueRecords).",
    ),
    _queue(
        "AcknowledgedQueueRecords",
        SUM,
        "records acknowledged",
        "acked",
        "shardflow_queue_acknowledged_records",
        "Records acknowledged (AcknowledgeQueueRecords).",
    ),
    _queue(
        "EmptyReceives",
        SUM,
        "receive calls that returned no record",
        "empty",
        "shardflow_queue_empty_receives",
        "ReceiveQueueRecords calls that returned no record.",
    ),
    _queue("VisibleQueueRecords", AVERAGE, "records visible, ready to be received", "visible"),
    _queue(
        "InFlightQueueRecords", AVERAGE, "records received and not yet acknowledged", "in flight"
    ),
    _queue("VisibleDeadLetterQueueRecords", AVERAGE, "dead-letter records visible", "dead"),
)

METRICS: tuple[MetricInfo, ...] = STREAM_METRICS + SHARD_METRICS + CONSUMER_METRICS + QUEUE_METRICS
STREAM_BY_NAME = {m.name: m for m in STREAM_METRICS}
SHARD_BY_NAME = {m.name: m for m in SHARD_METRICS}
CONSUMER_BY_NAME = {m.name: m for m in CONSUMER_METRICS}
QUEUE_BY_NAME = {m.name: m for m in QUEUE_METRICS}
BY_LEVEL = {
    STREAM: STREAM_METRICS,
    SHARD: SHARD_METRICS,
    CONSUMER: CONSUMER_METRICS,
    QUEUE: QUEUE_METRICS,
}
BY_NAME = {
    STREAM: STREAM_BY_NAME,
    SHARD: SHARD_BY_NAME,
    CONSUMER: CONSUMER_BY_NAME,
    QUEUE: QUEUE_BY_NAME,
}
