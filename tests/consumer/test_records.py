"""Turning GetRecords pages into user records: deaggregation and resuming inside an aggregate."""

from __future__ import annotations

from shardflow.consumer.records import SHARD_END, Position, unpack
from shardflow.model.kpl import aggregate

SHARD = "shardId-000000000000"


def _raw(seq: int, data: bytes, key: str = "pk") -> dict[str, object]:
    return {"SequenceNumber": str(seq), "Data": data, "PartitionKey": key}


def _page() -> list[dict[str, object]]:
    agg = aggregate([("a", b"a0"), ("b", b"b1"), ("a", b"a2")])
    return [_raw(100, b"plain"), _raw(200, agg, "outer"), _raw(300, b"last")]


def test_deaggregates_with_subsequence_numbers() -> None:
    records = unpack(SHARD, _page())
    got = [(r.sequence_number, r.subsequence_number, r.partition_key, r.data) for r in records]
    assert got == [
        ("100", 0, "pk", b"plain"),
        ("200", 0, "a", b"a0"),
        ("200", 1, "b", b"b1"),
        ("200", 2, "a", b"a2"),
        ("300", 0, "pk", b"last"),
    ]
    assert [r.aggregated for r in records] == [False, True, True, True, False]


def test_deaggregation_off_passes_aggregates_through() -> None:
    records = unpack(SHARD, _page(), deaggregate_records=False)
    assert len(records) == 3 and records[1].partition_key == "outer"


def test_resume_inside_an_aggregate_drops_what_was_checkpointed() -> None:
    # AT_SEQUENCE_NUMBER of checkpoint (200, 1): the page starts with the aggregate again.
    page = _page()[1:]
    records = unpack(SHARD, page, after=Position.of("200", 1))
    assert [(r.sequence_number, r.subsequence_number) for r in records] == [("200", 2), ("300", 0)]


def test_resume_at_a_plain_record_drops_it() -> None:
    records = unpack(SHARD, _page(), after=Position.of("100"))
    assert records[0].position == Position(200, 0) and len(records) == 4


def test_positions_order_numerically_and_shard_end_is_last() -> None:
    assert Position.of("99") < Position.of("100") < Position.of("100", 1) < SHARD_END
    assert str(SHARD_END) == "SHARD_END" and SHARD_END.is_shard_end
