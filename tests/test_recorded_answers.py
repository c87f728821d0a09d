"""AWS's answers as kinesalite's tests recorded them against AWS (test/*.js in mhart/kinesalite),
where Shardflow used to answer differently: retention no-ops, the order of checks, malformed
shard ids and sequence numbers of AWS's own layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from shardflow.model.aws_sequence import aws_shard_index
from tests.support import ServerProcess, server_of_its_own

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def slow_update_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Streams stay UPDATING for a minute after a change, so the state is visible."""
    data = tmp_path_factory.mktemp("recorded") / "data"
    yield from server_of_its_own(data, "--update-stream-ms", "60000")


@pytest.fixture(scope="module")
def kinesis(slow_update_server: ServerProcess) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=slow_update_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=BotoConfig(retries={"total_max_attempts": 1}, parameter_validation=False),
    )


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as info:
        call(**params)
    error = info.value.response["Error"]  # type: ignore[attr-defined]
    return error["Code"], error["Message"]


def _status(kinesis: Any, name: str) -> str:
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
    )


def test_retention_no_op_and_shorter_increase(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="ret", ShardCount=1)
    kinesis.increase_stream_retention_period(StreamName="ret", RetentionPeriodHours=24)
    assert _status(kinesis, "ret") == "ACTIVE"  # the current value: nothing changes
    kinesis.increase_stream_retention_period(StreamName="ret", RetentionPeriodHours=25)
    assert _status(kinesis, "ret") == "UPDATING"
    # Shorter on Increase: InvalidArgumentException, though the stream is UPDATING.
    assert _error(
        kinesis.increase_stream_retention_period, StreamName="ret", RetentionPeriodHours=24
    ) == (
        "InvalidArgumentException",
        "Requested retention period (24 hours) for stream ret can not be shorter than existing"
        " retention period (25 hours). Use DecreaseRetentionPeriod API.",
    )
    # A real change while UPDATING is still refused as before.
    code, _ = _error(
        kinesis.increase_stream_retention_period, StreamName="ret", RetentionPeriodHours=26
    )
    assert code == "ResourceInUseException"


@pytest.mark.parametrize("shard", ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"])
def test_malformed_shard_ids(kinesis: Any, shard: str) -> None:
    expected = (
        "ResourceNotFoundException",
        f"Could not find shard {shard} in stream nope under account {ACCOUNT}.",
    )
    assert (
        _error(
            kinesis.get_shard_iterator, StreamName="nope", ShardId=shard, ShardIteratorType="LATEST"
        )
        == expected
    )
    assert (
        _error(kinesis.split_shard, StreamName="nope", ShardToSplit=shard, NewStartingHashKey="0")
        == expected
    )


def test_shard_ids_aws_still_reads(kinesis: Any) -> None:
    for shard in ("2147483647", "x-2147483647", "a-00002147483647", "-00002147483647"):
        assert _error(
            kinesis.get_shard_iterator,
            StreamName="nope",
            ShardId=shard,
            ShardIteratorType="LATEST",
        ) == (
            "ResourceNotFoundException",
            f"Shard shardId-002147483647 in stream nope under account {ACCOUNT} does not exist",
        )
    # SplitShard looks the stream up first when the shard id is well formed.
    assert _error(
        kinesis.split_shard,
        StreamName="nope",
        ShardToSplit="a-00002147483647",
        NewStartingHashKey="0",
    ) == ("ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")


def test_sequence_numbers_of_awss_layout(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="seq", ShardCount=2)

    def start(seq: str, shard: str = "shardId-0") -> tuple[str, str]:
        return _error(
            kinesis.get_shard_iterator,
            StreamName="seq",
            ShardId=shard,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=seq,
        )

    def encodes(index: str) -> tuple[str, str]:
        return (
            "InvalidArgumentException",
            f"Invalid StartingSequenceNumber. It encodes {index}, while it was used in a call to"
            " a shard with shardId-000000000000",
        )

    def invalid(seq: str) -> tuple[str, str]:
        return (
            "InvalidArgumentException",
            f"StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000"
            f" in stream seq under account {ACCOUNT} is invalid.",
        )

    assert start("5") == encodes("shardId-000000000005")
    near_end = str(int("20000000000000000000000000000000000000800000002", 16))
    assert start(near_end) == encodes("shardId--02147483648")
    large_date = str(int("13bb2cc3d80000000000000000000000", 16))
    assert start(large_date) == invalid(large_date)
    high_index = str(int("20000000000800000000000000000000000000000000002", 16))
    assert start(high_index) == invalid(high_index)
    # One of Shardflow's own, from the other shard: recognised as foreign.
    put = kinesis.put_record(
        StreamName="seq", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**127 + 1)
    )
    assert put["ShardId"] == "shardId-000000000001"
    assert start(put["SequenceNumber"]) == encodes("shardId-000000000001")


def test_model_constraints_come_before_the_lookup(kinesis: Any) -> None:
    tags = {f"k{i}": "v" for i in range(201)}  # the model allows 200 per AddTagsToStream
    code, message = _error(kinesis.add_tags_to_stream, StreamName="nope", Tags=tags)
    assert code == "ValidationException"
    assert message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200"
    )


def test_aws_shard_index_layouts() -> None:
    assert aws_shard_index("5") == 5
    assert aws_shard_index("abc") is None
    version_2 = int("2" + "00000000a" + "0" + "0" * 16 + "00" + "00000000a" + "00000007" + "2", 16)
    assert aws_shard_index(str(version_2)) == 7
