"""KPL aggregation format: round trips, size accounting, and interop with aws-kinesis-agg."""

from __future__ import annotations

import base64
import random

import pytest

from shardflow.model import kpl


def _records(n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    keys = [f"taxi-{i}" for i in range(7)] + ["ключ-ü"]  # a non-ASCII key too
    return [(rng.choice(keys), rng.randbytes(rng.randrange(0, 300))) for _ in range(n)]


def test_round_trip_keeps_keys_data_and_order() -> None:
    records = _records(200)
    out = kpl.deaggregate("a", kpl.aggregate(records))
    assert [(r.partition_key, r.data) for r in out] == records
    assert [r.subsequence for r in out] == list(range(200))
    assert all(r.aggregated for r in out)


def test_size_accounting_is_exact() -> None:
    builder = kpl.AggregateBuilder(max_bytes=10_000)
    for key, data in _records(500):
        ehk = "123" if len(data) % 3 == 0 else None
        if not builder.try_add(key, data, ehk):
            break
        assert builder.size == len(builder.encode())
    assert builder.size <= 10_000
    assert builder.count > 10


@pytest.mark.parametrize(
    "data",
    [b"plain", kpl.MAGIC + b"x" * 16, kpl.MAGIC + b"\x0a\x05" + b"y" * 30, b""],
)
def test_non_aggregates_pass_through(data: bytes) -> None:
    assert kpl.deaggregate("k", data) == [kpl.UserRecord("k", data)]


def test_corrupt_digest_passes_through() -> None:
    blob = bytearray(kpl.aggregate([("k", b"v")]))
    blob[-1] ^= 0xFF
    assert kpl.deaggregate("outer", bytes(blob)) == [kpl.UserRecord("outer", bytes(blob))]


def test_aws_kinesis_agg_reads_our_aggregates() -> None:
    deagg = pytest.importorskip("aws_kinesis_agg.deaggregator")
    records = _records(50)
    blob = kpl.aggregate(records)
    event_record = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "a",
            "sequenceNumber": "49" + "0" * 54,
            "data": base64.b64encode(blob).decode(),
            "approximateArrivalTimestamp": 1.0,
        }
    }
    out = deagg.deaggregate_records([event_record])
    got = [(r["kinesis"]["partitionKey"], base64.b64decode(r["kinesis"]["data"])) for r in out]
    assert got == records


def test_we_read_aws_kinesis_agg_aggregates() -> None:
    agg_module = pytest.importorskip("aws_kinesis_agg.aggregator")
    aggregator = agg_module.RecordAggregator()
    records = _records(40)
    for key, data in records:
        assert aggregator.add_user_record(key, data) is None  # everything fits in one
    key, _hash_key, blob = aggregator.clear_and_get().get_contents()
    out = kpl.deaggregate(key, blob)
    assert [(r.partition_key, r.data) for r in out] == records
