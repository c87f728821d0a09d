"""The aggregate builder (exact sizes, read back by aws-kinesis-agg, an independent reader);
error classification; rate limits."""

from __future__ import annotations

import base64
import random

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from shardflow.model.kpl import AggregateBuilder, deaggregate
from shardflow.producer.errors import (
    RejectedError,
    ServiceError,
    StreamNotFoundError,
    ThrottledError,
    TransportError,
    classify,
    from_code,
)
from shardflow.producer.ratelimit import ShardRateLimit


@pytest.mark.parametrize("seed", range(20))
def test_builder_sizes_are_exact_and_within_the_limit(seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.choice([120, 1000, 51_199, 300_000])
    builder = AggregateBuilder(limit)
    added: list[tuple[str, bytes, str | None]] = []
    for _ in range(rng.randint(1, 300)):
        key = rng.choice([f"k{rng.randrange(200)}", f"ключ{rng.randrange(3)}", "x" * 256])
        data = rng.randbytes(rng.choice([0, 1, 127, 128, 380, 16_383, 16_384, 20_000]))
        ehk = rng.choice([None, None, str(rng.randrange(2**128))])
        if builder.try_add(key, data, ehk):
            added.append((key, data, ehk))
        assert builder.size == len(builder.encode()) <= limit
    out = deaggregate("a", builder.encode()) if added else []
    if len(added) > 0:
        assert [(r.partition_key, r.data, r.explicit_hash_key) for r in out] == added


def test_aws_kinesis_agg_reads_builder_output() -> None:
    from aws_kinesis_agg.deaggregator import deaggregate_records

    records = [(f"taxi-{i % 7}", f"trip {i}".encode()) for i in range(100)]
    builder = AggregateBuilder(1 << 20)
    for key, data in records:
        assert builder.try_add(key, data, None)
    blob = builder.encode()
    event = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "a",
            "sequenceNumber": "49" + "0" * 54,
            "data": base64.b64encode(blob).decode(),
            "approximateArrivalTimestamp": 1.0,
        }
    }
    out = deaggregate_records([event])
    got = [(r["kinesis"]["partitionKey"], base64.b64decode(r["kinesis"]["data"])) for r in out]
    assert got == records
    assert [(r.partition_key, r.data) for r in deaggregate("a", blob)] == records


def test_errors_are_classified_by_code_not_message() -> None:
    assert isinstance(from_code("ProvisionedThroughputExceededException"), ThrottledError)
    assert from_code("ProvisionedThroughputExceededException").retriable
    assert isinstance(from_code("InternalFailure"), ServiceError)
    assert not from_code("ValidationException").retriable
    assert isinstance(from_code("SomethingNew", status=503), ServiceError)
    assert isinstance(from_code("SomethingNew", status=400), RejectedError)
    missing = ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": "nope"}}, "PutRecords"
    )
    assert isinstance(classify(missing), StreamNotFoundError) and not classify(missing).retriable
    timeout = classify(ReadTimeoutError(endpoint_url="http://x"))
    assert isinstance(timeout, TransportError) and timeout.outcome_unknown and timeout.retriable


def test_shard_rate_limit_paces_records_and_bytes() -> None:
    limit = ShardRateLimit(records_per_s=10, bytes_per_s=1000, now=0.0)
    for _ in range(10):
        assert limit.allows(10, 0.0)
        limit.take(10)
    assert not limit.allows(10, 0.0)  # out of records
    assert limit.ready_at(10, 0.0) == pytest.approx(0.1)
    assert limit.allows(10, 0.1)
    limit = ShardRateLimit(records_per_s=1000, bytes_per_s=1000, now=0.0)
    limit.take(1000)
    assert not limit.allows(500, 0.2) and limit.allows(500, 0.5)
