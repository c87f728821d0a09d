"""The accumulator's seams: the sender and the refresher change queue state only through these
methods, and drain_ready() must honour what they set (pure: no I/O, times passed in)."""

from __future__ import annotations

from shardflow.model.hashing import MAX_HASH_KEY
from shardflow.producer.accumulator import Accumulator
from shardflow.producer.batch import Entry
from shardflow.producer.config import ProducerConfig
from shardflow.producer.future import RecordFuture
from shardflow.producer.shardmap import ShardMap

HALF = MAX_HASH_KEY // 2
TWO_SHARDS = ShardMap([("shardId-0", 0, HALF), ("shardId-1", HALF + 1, MAX_HASH_KEY)])


def _acc(
    backoff_base: float = 0.05,
    backoff_max: float = 2.0,
    linger: float = 0.0,
    aggregation: bool = False,
) -> Accumulator:
    config = ProducerConfig(
        aggregation=aggregation,
        rate_limit=None,
        linger=linger,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
    )
    return Accumulator(config, TWO_SHARDS, now=0.0)


def _put(acc: Accumulator, key: str, hash_key: int, now: float = 0.0) -> None:
    acc.append(key, b"data", str(hash_key), RecordFuture(), 4 + len(key), lambda: now, 30.0)


def _shards(entries: list[Entry]) -> list[str]:
    return [e.shard_id for e in entries]


def test_ordered_skips_a_shard_with_a_call_in_flight_until_it_ends() -> None:
    acc = _acc()
    _put(acc, "a", 1)
    entries, _ = acc.drain_ready(0.0, flushing=True)
    assert _shards(entries) == ["shardId-0"]
    acc.begin_call(entries)
    _put(acc, "b", 2)
    _put(acc, "c", HALF + 5)
    assert _shards(acc.drain_ready(0.0, flushing=True)[0]) == ["shardId-1"]
    acc.end_call(entries)
    assert _shards(acc.drain_ready(0.0, flushing=True)[0]) == ["shardId-0"]


def test_each_shard_waits_for_its_own_linger() -> None:
    acc = _acc(linger=1.0, aggregation=True)
    _put(acc, "a", 1, now=0.0)
    _put(acc, "b", HALF + 5, now=0.9)
    entries, _ = acc.drain_ready(1.0, flushing=False)
    assert _shards(entries) == ["shardId-0"]  # shard 1's aggregate is younger than linger
    _put(acc, "c", HALF + 6, now=1.1)
    entries, _ = acc.drain_ready(2.0, flushing=False)
    assert _shards(entries) == ["shardId-1"] and entries[0].aggregated
    assert sorted(entries[0].key_set()) == ["b", "c"]


def test_a_record_too_big_to_aggregate_goes_after_the_open_aggregate_of_its_shard() -> None:
    acc = _acc(aggregation=True)
    small, big = b"s", b"B" * 60_000  # big: more than an aggregate can take
    for key, data in (("a", small), ("b", small), ("a", big)):
        acc.append(key, data, "1", RecordFuture(), len(data) + 1, lambda: 0.0, 30.0)
    first, _ = acc.drain_ready(0.0, flushing=True)  # (one call never holds a key twice)
    second, _ = acc.drain_ready(0.0, flushing=True)
    assert [e.aggregated for e in first + second] == [True, False]
    assert sorted(first[0].key_set()) == ["a", "b"] and second[0].data == big


def test_back_off_holds_the_shard_for_a_growing_jittered_wait_and_success_resets_it() -> None:
    acc = _acc(backoff_base=1.0, backoff_max=8.0)
    acc.back_off("shardId-0", now=100.0)  # first failure: up to base * 2
    _put(acc, "a", 1, now=100.0)
    wake = acc.next_wake(100.0, flushing=True)
    assert wake is not None and 100.0 <= wake <= 102.0
    assert acc.drain_ready(100.0 + 2.0 + 1e-9, flushing=True)[0]  # the wait has passed
    for _ in range(10):
        acc.back_off("shardId-0", now=200.0)
    _put(acc, "b", 2, now=200.0)
    wake = acc.next_wake(200.0, flushing=True)
    assert wake is not None and wake <= 200.0 + 8.0  # capped at backoff_max
    assert acc.drain_ready(200.0 + 8.0 + 1e-9, flushing=True)[0]
    for i in range(20):  # after a success, counted from the first step again (each time)
        now = 220.0 + 10 * i
        acc.succeeded("shardId-0")
        acc.back_off("shardId-0", now=now)
        _put(acc, f"c{i}", 3, now=now)
        assert acc.drain_ready(now + 2.0 + 1e-9, flushing=True)[0]


def test_hold_stops_a_shard_until_remap_and_hold_changing_reports_calls_in_flight() -> None:
    acc = _acc()
    _put(acc, "a", 1)
    acc.hold("shardId-0")
    assert acc.any_held()
    assert acc.drain_ready(0.0, flushing=True)[0] == []
    entries = [Entry.plain("shardId-1", ("k", b"x", None), [RecordFuture()], 2, 0.0, 30.0)]
    acc.begin_call(entries)
    merged = ShardMap([("shardId-2", 0, MAX_HASH_KEY)], version=1)
    assert acc.hold_changing(merged, by_service=False)  # shardId-1 still has a call in flight
    acc.end_call(entries)
    assert not acc.hold_changing(merged, by_service=False)
    moved = acc.remap(merged, 0.0)
    assert [e.partition_key for e in moved] == ["a"] and not acc.any_held()
    for entry in moved:
        acc.reroute(entry)
    assert _shards(acc.drain_ready(0.0, flushing=True)[0]) == ["shardId-2"]
    assert not acc.has_queue("shardId-0") and acc.has_queue("shardId-2")


def test_entry_size_counts_the_partition_key_in_utf8_bytes() -> None:
    entry = Entry.plain("shardId-0", ("ключ", b"12345", None), [RecordFuture()], 13, 0.0, 1.0)
    assert entry.size == 5 + len("ключ".encode())  # 13 bytes, not 9 characters
