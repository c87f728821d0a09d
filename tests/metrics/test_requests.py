"""``shardflow_requests_total``: every call that names a stream is counted under it, however it
names it (StreamName, StreamARN, or the stream part of a ConsumerARN or ResourceARN). Dry runs
are counted as requests, but not in the stream's CloudWatch figures: they store and read
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import HASH_KEY_SPACE, iterator, shard_id, stream_arn, stream_pool, unique_name
from tests.metrics.conftest import get_json, prom_sum, prometheus_samples

pytestmark = pytest.mark.timeout(60)

REQUESTS = "shardflow_requests_total"


def _calls(
    samples: list[tuple[str, dict[str, str], float]],
    stream: str,
    operation: str,
    outcome: str = "success",
) -> float:
    return prom_sum(samples, REQUESTS, stream=stream, operation=operation, outcome=outcome)


def test_consumer_and_resource_arns_name_their_stream(kinesis: Any, endpoint: str) -> None:
    with stream_pool(kinesis) as pool:
        stream = pool.create()
        arn = stream_arn(stream)
        consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=unique_name("efo"))[
            "Consumer"
        ]["ConsumerARN"]
        kinesis.describe_stream_consumer(ConsumerARN=consumer)
        position = {"Type": "LATEST"}
        kinesis.subscribe_to_shard(
            ConsumerARN=consumer, ShardId=shard_id(0), StartingPosition=position
        )["EventStream"].close()
        with pytest.raises(kinesis.exceptions.DryRunOperationException):
            kinesis.subscribe_to_shard(
                ConsumerARN=consumer, ShardId=shard_id(0), StartingPosition=position, DryRun=True
            )
        kinesis.tag_resource(ResourceARN=arn, Tags={"team": "a"})
        kinesis.tag_resource(ResourceARN=consumer, Tags={"team": "b"})
        kinesis.list_tags_for_resource(ResourceARN=consumer)
        kinesis.get_resource_policy(ResourceARN=arn)
        kinesis.deregister_stream_consumer(ConsumerARN=consumer)

        samples = prometheus_samples(endpoint)
        assert _calls(samples, stream, "RegisterStreamConsumer") == 1  # by StreamARN
        assert _calls(samples, stream, "DescribeStreamConsumer") == 1
        assert _calls(samples, stream, "SubscribeToShard") == 1
        assert _calls(samples, stream, "SubscribeToShard", "DryRunOperationException") == 1
        assert _calls(samples, stream, "TagResource") == 2
        assert _calls(samples, stream, "ListTagsForResource") == 1
        assert _calls(samples, stream, "GetResourcePolicy") == 1
        assert _calls(samples, stream, "DeregisterStreamConsumer") == 1


def test_dry_runs_are_requests_not_puts_or_reads(kinesis: Any, endpoint: str) -> None:
    with stream_pool(kinesis) as pool:
        stream = pool.create()
        kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"real")
        for _ in range(3):
            with pytest.raises(kinesis.exceptions.DryRunOperationException):
                kinesis.put_record(StreamName=stream, PartitionKey="a", Data=b"x", DryRun=True)
        with pytest.raises(kinesis.exceptions.InvalidArgumentException):
            kinesis.put_record(
                StreamName=stream,
                PartitionKey="a",
                Data=b"x",
                ExplicitHashKey=str(HASH_KEY_SPACE),
                DryRun=True,
            )
        with pytest.raises(kinesis.exceptions.DryRunOperationException):
            kinesis.put_records(
                StreamName=stream, Records=[{"PartitionKey": "a", "Data": b"x"}], DryRun=True
            )
        with pytest.raises(kinesis.exceptions.DryRunOperationException):
            kinesis.get_records(ShardIterator=iterator(kinesis, stream, shard_id(0)), DryRun=True)

        samples = prometheus_samples(endpoint)
        assert _calls(samples, stream, "PutRecord") == 1
        assert _calls(samples, stream, "PutRecord", "DryRunOperationException") == 3
        assert _calls(samples, stream, "PutRecord", "InvalidArgumentException") == 1
        assert _calls(samples, stream, "PutRecords", "DryRunOperationException") == 1
        assert _calls(samples, stream, "GetRecords", "DryRunOperationException") == 1
        assert prom_sum(samples, "shardflow_incoming_records_total", stream=stream) == 1

        body = get_json(endpoint, f"/dashboard/api/metrics?stream={stream}&range=5m")
        metrics = body["metrics"]
        assert metrics["PutRecord.Success"]["total"] == 1.0  # the real call alone
        assert metrics["IncomingRecords"]["total"] == 1
        for name in ("PutRecords.Success", "PutRecords.Latency", "GetRecords.Success"):
            assert metrics[name]["total"] is None, name  # no sample: no such call was made
