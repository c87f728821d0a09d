"""UpdateStreamMode, UpdateMaxRecordSize, UpdateStreamWarmThroughput and
UpdateStreamRecordDistributionStrategy: serialization, validation and functionality."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    NOT_NULL,
    StreamPool,
    assert_enum_validation,
    assert_error,
    assert_serialization,
    assert_validation,
    max_value,
    min_value,
    nested,
    not_found_message,
    raw_call,
    serialization_params,
    stream_arn,
    stream_pool,
    unique_name,
    validation_message,
)
from tests.support import ServerProcess

MODE, RECORD_SIZE = "UpdateStreamMode", "UpdateMaxRecordSize"
WARM, DISTRIBUTION = "UpdateStreamWarmThroughput", "UpdateStreamRecordDistributionStrategy"
ON_DEMAND = {"StreamMode": "ON_DEMAND"}
PROVISIONED = {"StreamMode": "PROVISIONED"}


@pytest.fixture
def streams(kinesis: Any) -> Iterator[StreamPool]:
    with stream_pool(kinesis) as pool:
        yield pool


def _summary(kinesis: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    return result["StreamDescriptionSummary"]


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "path", "value", "message"),
        [
            (MODE, *c)
            for c in serialization_params(
                {
                    "StreamARN": "String",
                    "StreamModeDetails": "Structure",
                    "WarmThroughputMiBps": "Integer",
                }
            )
        ]
        + [(RECORD_SIZE, *c) for c in serialization_params({"MaxRecordSizeInKiB": "Integer"})]
        + [(WARM, *c) for c in serialization_params({"WarmThroughputMiBps": "Integer"})]
        + [
            (DISTRIBUTION, *c)
            for c in serialization_params({"RecordDistributionStrategy": "String"})
        ],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, path: str, value: Any, message: str
    ) -> None:
        base = {
            "StreamARN": stream_arn(unique_name()),
            "StreamModeDetails": ON_DEMAND,
            "MaxRecordSizeInKiB": 2048,
            "WarmThroughputMiBps": 10,
            "RecordDistributionStrategy": "AUTO",
        }
        assert_serialization(raw_call(endpoint, target, nested(path, value, base)), message)


class TestValidation:
    def test_mode_required(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, MODE, {}),
            [
                validation_message(None, "streamARN", NOT_NULL),
                validation_message(None, "streamModeDetails", NOT_NULL),
            ],
        )

    def test_mode_enum(self, endpoint: str) -> None:
        body = {"StreamARN": stream_arn(unique_name()), "StreamModeDetails": {"StreamMode": "X"}}
        assert_enum_validation(
            raw_call(endpoint, MODE, body),
            "X",
            "streamModeDetails.streamMode",
            ["PROVISIONED", "ON_DEMAND"],
        )

    @pytest.mark.parametrize(
        ("value", "constraint"), [(1023, min_value(1024)), (10241, max_value(10240))]
    )
    def test_record_size_bounds(self, endpoint: str, value: int, constraint: str) -> None:
        body = {"StreamARN": stream_arn(unique_name()), "MaxRecordSizeInKiB": value}
        assert_validation(
            raw_call(endpoint, RECORD_SIZE, body),
            [validation_message(value, "maxRecordSizeInKiB", constraint)],
        )

    def test_warm_throughput_bounds(self, endpoint: str) -> None:
        body = {"StreamARN": stream_arn(unique_name()), "WarmThroughputMiBps": -1}
        assert_validation(
            raw_call(endpoint, WARM, body),
            [validation_message(-1, "warmThroughputMiBps", min_value(0))],
        )

    def test_distribution_enum(self, endpoint: str) -> None:
        body = {"StreamARN": stream_arn(unique_name()), "RecordDistributionStrategy": "X"}
        assert_enum_validation(
            raw_call(endpoint, DISTRIBUTION, body),
            "X",
            "recordDistributionStrategy",
            ["AUTO", "USER_PARTITION_KEY"],
        )

    @pytest.mark.parametrize("target", [MODE, RECORD_SIZE, WARM, DISTRIBUTION])
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {
            "StreamARN": stream_arn(name),
            "StreamModeDetails": ON_DEMAND,
            "MaxRecordSizeInKiB": 2048,
            "WarmThroughputMiBps": 10,
            "RecordDistributionStrategy": "AUTO",
        }
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    def test_warm_throughput_needs_on_demand(self, endpoint: str, stream: str) -> None:
        body = {"StreamARN": stream_arn(stream), "WarmThroughputMiBps": 10}
        assert_error(raw_call(endpoint, WARM, body), "InvalidArgumentException")

    def test_mode_switches_twice_a_day(self, kinesis: Any, stream: str) -> None:
        arn = stream_arn(stream)
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=ON_DEMAND)
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=PROVISIONED)
        with pytest.raises(kinesis.exceptions.LimitExceededException):
            kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=ON_DEMAND)


class TestFunctionality:
    def test_switch_modes(self, kinesis: Any, endpoint: str, stream: str) -> None:
        arn = stream_arn(stream)
        status, _, body = raw_call(
            endpoint, MODE, {"StreamARN": arn, "StreamModeDetails": ON_DEMAND}
        )
        assert status == 200 and body in (None, {}), body
        summary = _summary(kinesis, stream)
        assert summary["StreamModeDetails"] == ON_DEMAND
        assert summary["OpenShardCount"] == 2  # the shards stay as they were
        listed = kinesis.list_streams(ExclusiveStartStreamName=stream[:-1])["StreamSummaries"]
        assert any(s["StreamModeDetails"] == ON_DEMAND for s in listed if s["StreamName"] == stream)
        kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails=PROVISIONED)
        assert _summary(kinesis, stream)["StreamModeDetails"] == PROVISIONED

    def test_max_record_size(self, kinesis: Any, stream: str) -> None:
        big = b"x" * (1024 * 1024 + 1)
        with pytest.raises(kinesis.exceptions.ClientError):
            kinesis.put_record(StreamName=stream, PartitionKey="k", Data=big)
        kinesis.update_max_record_size(StreamARN=stream_arn(stream), MaxRecordSizeInKiB=10240)
        assert _summary(kinesis, stream)["MaxRecordSizeInKiB"] == 10240
        kinesis.put_record(StreamName=stream, PartitionKey="k", Data=big)
        largest = (bytes(range(256)) * 40960)[: 10240 * 1024 - 1]  # with the key "k": 10 MiB
        put = kinesis.put_record(StreamName=stream, PartitionKey="k", Data=largest)
        with pytest.raises(kinesis.exceptions.ClientError):
            kinesis.put_record(StreamName=stream, PartitionKey="k", Data=largest + b"!")
        iterator = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=put["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"],
        )["ShardIterator"]
        got = kinesis.get_records(ShardIterator=iterator)["Records"]
        assert got[0]["Data"] == largest  # a 10 MiB record comes back whole

    def test_warm_throughput_needs_the_commitment(self, kinesis: Any, streams: StreamPool) -> None:
        """The shared server's account has no billing commitment (tests/test_warm_throughput.py
        covers warm throughput with one)."""
        name = streams.create(StreamModeDetails=ON_DEMAND)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.update_stream_warm_throughput(StreamARN=stream_arn(name), WarmThroughputMiBps=8)
        assert "WarmThroughput" not in _summary(kinesis, name)

    def test_record_distribution_strategy(self, kinesis: Any, streams: StreamPool) -> None:
        """Reported for ON_DEMAND streams only (tests/test_record_distribution.py: routing)."""
        name = streams.create(StreamModeDetails=ON_DEMAND)
        assert _summary(kinesis, name)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
        status, _, body = raw_call(
            kinesis.meta.endpoint_url,
            DISTRIBUTION,
            {"StreamARN": stream_arn(name), "RecordDistributionStrategy": "AUTO"},
        )
        assert status == 200 and body in (None, {}), body
        assert _summary(kinesis, name)["RecordDistributionStrategy"] == "AUTO"
        provisioned = streams.create(ShardCount=1, RecordDistributionStrategy="USER_PARTITION_KEY")
        assert "RecordDistributionStrategy" not in _summary(kinesis, provisioned)


@pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts a server of its own"
)
def test_changes_leave_the_stream_updating(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = ServerProcess(tmp_path_factory.mktemp("capacity") / "d", "--update-stream-ms", "300")
    server.start()
    try:
        client: Any = make_client(server.endpoint)
        client.create_stream(StreamName="s", ShardCount=1)
        arn = stream_arn("s")
        client.update_stream_mode(StreamARN=arn, StreamModeDetails=ON_DEMAND)
        assert _summary(client, "s")["StreamStatus"] == "UPDATING"
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
        time.sleep(0.35)
        client.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
        assert _summary(client, "s")["StreamStatus"] == "UPDATING"
        time.sleep(0.35)
        summary = _summary(client, "s")
        assert (summary["StreamStatus"], summary["RetentionPeriodHours"]) == ("ACTIVE", 48)
        server.stop()
        server.start()
        summary = _summary(make_client(server.endpoint), "s")
        assert summary["StreamModeDetails"] == ON_DEMAND
        assert summary["RetentionPeriodHours"] == 48
    finally:
        server.stop()
