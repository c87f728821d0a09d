"""EnableEnhancedMonitoring and DisableEnhancedMonitoring: serialization, validation and
functionality (Current = before the call, Desired = after; ALL names every shard-level metric)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    max_length,
    min_length,
    nested,
    not_found_message,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)

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
