"""EnableEnhancedMonitoring and DisableEnhancedMonitoring: serialization, validation and
functionality (Current = before the call, Desired = after; ALL names every shard-level metric).

The setting switches the shard-level metrics as on AWS: a metric is kept, per shard, only while it
is enabled; its history stays after it is disabled; stream-level metrics never depend on it. The
server's own views of them (/metrics, the dashboard's JSON) are read back here.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    iterator,
    key_for_shard,
    max_length,
    min_length,
    nested,
    not_found_message,
    put_to_shard,
    raw_call,
    serialization_params,
    shard_id,
    stream_arn,
    unique_name,
    validation_message,
)
from tests.metrics.conftest import get_json, prometheus_samples

ENABLE, DISABLE = "EnableEnhancedMonitoring", "DisableEnhancedMonitoring"
BOTH = pytest.mark.parametrize("target", [ENABLE, DISABLE])
ALL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]


class TestSerialization:
    @BOTH
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params({"StreamName": "String", "ShardLevelMetrics": "List"}),
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {"StreamName": unique_name(), "ShardLevelMetrics": ["ALL"]}
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    @BOTH
    def test_required(self, endpoint: str, target: str) -> None:
        assert_validation(
            raw_call(endpoint, target, {"StreamName": unique_name()}),
            [validation_message(None, "shardLevelMetrics", NOT_NULL)],
        )

    @BOTH
    def test_list_bounds(self, endpoint: str, target: str) -> None:
        assert_validation(
            raw_call(endpoint, target, {"StreamName": unique_name(), "ShardLevelMetrics": []}),
            [validation_message("[]", "shardLevelMetrics", min_length(1))],
        )
        many = [*ALL_METRICS, "ALL"]
        assert_validation(
            raw_call(endpoint, target, {"StreamName": unique_name(), "ShardLevelMetrics": many}),
            [validation_message(f"[{', '.join(many)}]", "shardLevelMetrics", max_length(7))],
        )

    @BOTH
    def test_unknown_metric(self, endpoint: str, target: str) -> None:
        body = {"StreamName": unique_name(), "ShardLevelMetrics": ["Bogus"]}
        status, _, resp = raw_call(endpoint, target, body)
        assert status == 400 and resp["__type"] == "ValidationException", resp
        assert "shardLevelMetrics" in resp["message"] and "enum value set" in resp["message"]

    @BOTH
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        assert_error(
            raw_call(endpoint, target, {"StreamName": name, "ShardLevelMetrics": ["ALL"]}),
            "ResourceNotFoundException",
            not_found_message(name),
        )


class TestFunctionality:
    def test_enable_then_disable(self, kinesis: Any, stream: str) -> None:
        resp = kinesis.enable_enhanced_monitoring(
            StreamName=stream, ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"]
        )
        assert resp["StreamName"] == stream
        assert resp["StreamARN"] == stream_arn(stream)
        assert resp["CurrentShardLevelMetrics"] == []
        assert sorted(resp["DesiredShardLevelMetrics"]) == ["IncomingBytes", "OutgoingBytes"]
        resp = kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
        assert sorted(resp["CurrentShardLevelMetrics"]) == ["IncomingBytes", "OutgoingBytes"]
        assert sorted(resp["DesiredShardLevelMetrics"]) == sorted(ALL_METRICS)
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert sorted(summary["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)
        resp = kinesis.disable_enhanced_monitoring(
            StreamARN=stream_arn(stream), ShardLevelMetrics=["IncomingBytes"]
        )
        assert sorted(resp["DesiredShardLevelMetrics"]) == sorted(
            m for m in ALL_METRICS if m != "IncomingBytes"
        )
        resp = kinesis.disable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
        assert resp["DesiredShardLevelMetrics"] == []
        desc = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
        assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


# Prometheus families of the shard-level metrics (counters as their samples are named).
SHARD_FAMILIES = {
    "IncomingBytes": "shardflow_shard_incoming_bytes_total",
    "IncomingRecords": "shardflow_shard_incoming_records_total",
    "OutgoingBytes": "shardflow_shard_outgoing_bytes_total",
    "OutgoingRecords": "shardflow_shard_outgoing_records_total",
    "WriteProvisionedThroughputExceeded": (
        "shardflow_shard_write_provisioned_throughput_exceeded_total"
    ),
    "ReadProvisionedThroughputExceeded": (
        "shardflow_shard_read_provisioned_throughput_exceeded_total"
    ),
    "IteratorAgeMilliseconds": "shardflow_shard_iterator_age_seconds",
}
S0, S1 = shard_id(0), shard_id(1)
DATA = b"0123456789"  # every record: 10 bytes of data
KEY_BYTES = {S0: len(key_for_shard(0, 2)), S1: len(key_for_shard(1, 2))}


def _shard_series(endpoint: str, stream: str) -> dict[str, dict[str, float]]:
    """The stream's shard-level series in /metrics: family -> shard -> value."""
    out: dict[str, dict[str, float]] = {}
    for name, labels, value in prometheus_samples(endpoint):
        if labels.get("stream") == stream and name.startswith("shardflow_shard_"):
            out.setdefault(name, {})[labels["shard"]] = value
    return out


def _stream_counter(endpoint: str, stream: str, name: str) -> float:
    (value,) = [
        value
        for sample, labels, value in prometheus_samples(endpoint)
        if sample == name and labels.get("stream") == stream
    ]
    return value


def _dashboard(endpoint: str, stream: str) -> dict[str, Any]:
    body: dict[str, Any] = get_json(endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
    return body


def _shard_totals(body: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The dashboard JSON's shard-level totals: metric -> shard -> total."""
    out: dict[str, dict[str, float]] = {}
    for shard, metrics in body["shards"].items():
        for name, metric in metrics.items():
            out.setdefault(name, {})[shard] = metric["total"]
    return out


def _put(kinesis: Any, stream: str, shard: int, count: int) -> None:
    for _ in range(count):
        put_to_shard(kinesis, stream, shard, DATA)


def _read(kinesis: Any, it: str) -> tuple[str, int]:
    """One GetRecords call: the next iterator and the records it returned."""
    page = kinesis.get_records(ShardIterator=it)
    return page["NextShardIterator"], len(page["Records"])


@pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="reads Shardflow's own /metrics"
)
class TestShardLevelMetrics:
    def test_off_by_default(self, kinesis: Any, endpoint: str, stream: str) -> None:
        _put(kinesis, stream, 0, 2)
        _read(kinesis, iterator(kinesis, stream, S0))
        body = _dashboard(endpoint, stream)
        assert body["shard_level_metrics"] == [] and body["shards"] == {}
        assert body["metrics"]["IncomingRecords"]["total"] == 2  # the stream level is always on
        assert _shard_series(endpoint, stream) == {}
        assert _stream_counter(endpoint, stream, "shardflow_incoming_records_total") == 2
        assert _stream_counter(endpoint, stream, "shardflow_outgoing_records_total") == 2

    def test_enabled_metrics_only_and_only_while_enabled(
        self, kinesis: Any, endpoint: str, stream: str
    ) -> None:
        kinesis.enable_enhanced_monitoring(
            StreamName=stream, ShardLevelMetrics=["IncomingRecords", "OutgoingBytes"]
        )
        _put(kinesis, stream, 0, 3)
        _put(kinesis, stream, 1, 2)
        it, read = _read(kinesis, iterator(kinesis, stream, S0))
        assert read == 3
        read_bytes = 3 * (KEY_BYTES[S0] + len(DATA))
        assert _shard_series(endpoint, stream) == {
            SHARD_FAMILIES["IncomingRecords"]: {S0: 3, S1: 2},
            SHARD_FAMILIES["OutgoingBytes"]: {S0: read_bytes},
        }
        body = _dashboard(endpoint, stream)
        assert body["shard_level_metrics"] == ["IncomingRecords", "OutgoingBytes"]
        assert _shard_totals(body) == {
            "IncomingRecords": {S0: 3, S1: 2},
            "OutgoingBytes": {S0: read_bytes, S1: 0},
        }

        # IncomingRecords off: its series stops (and leaves /metrics), OutgoingBytes goes on
        resp = kinesis.disable_enhanced_monitoring(
            StreamName=stream, ShardLevelMetrics=["IncomingRecords"]
        )
        assert resp["DesiredShardLevelMetrics"] == ["OutgoingBytes"]
        _put(kinesis, stream, 0, 4)
        _, read = _read(kinesis, it)
        assert read == 4
        read_bytes += 4 * (KEY_BYTES[S0] + len(DATA))
        assert _shard_series(endpoint, stream) == {
            SHARD_FAMILIES["OutgoingBytes"]: {S0: read_bytes}
        }
        body = _dashboard(endpoint, stream)
        assert body["shard_level_metrics"] == ["OutgoingBytes"]
        assert _shard_totals(body) == {
            "IncomingRecords": {S0: 3, S1: 2},  # the history from when it was enabled stays
            "OutgoingBytes": {S0: read_bytes, S1: 0},
        }
        assert body["metrics"]["IncomingRecords"]["total"] == 9
        assert _stream_counter(endpoint, stream, "shardflow_incoming_records_total") == 9

        # on again: the counter goes on from where it stopped, never back
        kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["IncomingRecords"])
        _put(kinesis, stream, 1, 1)
        series = _shard_series(endpoint, stream)
        assert series[SHARD_FAMILIES["IncomingRecords"]] == {S0: 3, S1: 3}

    def test_all_then_none(self, kinesis: Any, endpoint: str, stream: str) -> None:
        kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
        _put(kinesis, stream, 0, 2)
        _put(kinesis, stream, 1, 1)
        for shard in (S0, S1):
            _read(kinesis, iterator(kinesis, stream, shard))
        body = _dashboard(endpoint, stream)
        assert body["shard_level_metrics"] == ALL_METRICS  # in DescribeStream's order
        totals = _shard_totals(body)
        assert set(totals) == set(ALL_METRICS)
        assert totals["IncomingRecords"] == {S0: 2, S1: 1}
        assert totals["OutgoingRecords"] == {S0: 2, S1: 1}
        assert totals["IncomingBytes"] == {S0: 2 * (KEY_BYTES[S0] + 10), S1: KEY_BYTES[S1] + 10}
        assert totals["WriteProvisionedThroughputExceeded"] == {S0: 0, S1: 0}
        assert all(
            age is not None and age >= 0 for age in totals["IteratorAgeMilliseconds"].values()
        )
        series = _shard_series(endpoint, stream)
        throttles = {m for m in SHARD_FAMILIES if m.endswith("ThroughputExceeded")}
        # a counter appears with its first count: none of these calls was throttled
        assert set(series) == {SHARD_FAMILIES[m] for m in ALL_METRICS if m not in throttles}
        assert series[SHARD_FAMILIES["IncomingRecords"]] == {S0: 2, S1: 1}
        assert set(series[SHARD_FAMILIES["IteratorAgeMilliseconds"]]) == {S0, S1}

        kinesis.disable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
        _put(kinesis, stream, 0, 5)
        assert _shard_series(endpoint, stream) == {}
        body = _dashboard(endpoint, stream)
        assert body["shard_level_metrics"] == []
        assert _shard_totals(body)["IncomingRecords"] == {S0: 2, S1: 1}  # kept, not growing
        assert body["metrics"]["IncomingRecords"]["total"] == 8
