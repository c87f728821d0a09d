"""The verifier's verdicts: duplicates are fine, late records and gaps are not."""

from __future__ import annotations

import json

from shardflow.consumer.records import Record
from shardflow.consumer.verification import Report, Verifier


def _records(events: list[tuple[str, int]], shard: str = "s0") -> list[Record]:
    return [
        Record(shard, str(1000 + i), 0, key, json.dumps({"taxiId": key, "taxiSeq": n}).encode())
        for i, (key, n) in enumerate(events)
    ]


def _verify(events: list[tuple[str, int]]) -> Report:
    verifier = Verifier()
    for record in _records(events):
        verifier.add(record)
    return verifier.report()


def test_in_order_is_ok_and_fields_are_detected() -> None:
    report = _verify([("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)])
    assert report.ok and report.keys == 2 and report.records == 5
    assert (report.key_field, report.counter_field) == ("taxiId", "taxiSeq")


def test_duplicates_from_resends_are_not_violations() -> None:
    report = _verify([("a", 1), ("a", 2), ("a", 3), ("a", 2), ("a", 3), ("a", 4)])
    assert report.ok and report.duplicates == 2


def test_late_record_is_an_order_violation() -> None:
    report = _verify([("a", 1), ("a", 3), ("a", 2), ("a", 4)])
    assert not report.ok and report.order_violations == 1 and report.missing == 0
    assert "counter 2 after 3" in report.violation_examples[0]


def test_late_records_are_no_failure_without_key_order() -> None:
    """On an AUTO stream a key's records are spread over the shards: late is not wrong."""
    verifier = Verifier()
    for record in _records([("a", 1), ("a", 3), ("a", 5)]) + _records([("a", 2), ("a", 4)], "s1"):
        verifier.add(record)
    assert not verifier.report().ok
    report = verifier.report(key_order=False)
    assert report.ok and report.order_violations == 2 and report.key_order is False
    gap = Verifier()
    for record in _records([("a", 1), ("a", 3)]):
        gap.add(record)
    assert not gap.report(key_order=False).ok  # gaps still count


def test_gap_is_reported_with_its_range() -> None:
    report = _verify([("a", 1), ("a", 2), ("a", 6), ("a", 7), ("b", 1)])
    assert not report.ok and report.missing == 3
    assert report.gap_examples == ["key a: counter 3..5 missing"]


def test_shard_sequence_regression_is_caught() -> None:
    verifier = Verifier(counter_field="taxiSeq")
    a, b = _records([("a", 1), ("a", 2)])
    verifier.add(b)
    verifier.add(a)
    report = verifier.report()
    assert report.shard_order_violations == 1 and not report.ok


def test_records_that_are_not_json_are_counted_unchecked() -> None:
    verifier = Verifier(counter_field="seq")
    verifier.add(Record("s0", "1", 0, "k", b"\x00binary"))
    report = verifier.report()
    assert report.unchecked == 1 and report.ok
