"""Did everything arrive, in order per shard and per key? (pure: records in, a report out)

Each key's records carry a producer-side counter (the taxi events' per-taxi counter, or a field
the user names). Reading a stream in shard order, for each key:

- a counter seen before is a **duplicate** (at-least-once producers resend; harmless once
  deduplicated by key and counter);
- a new counter below the highest seen so far is an **order violation** (it arrived late);
- counters missing between the lowest and highest seen are **gaps** (records lost).

Per shard, sequence numbers must strictly increase.

On a stream that places records itself (RecordDistributionStrategy AUTO) a key's records are
spread over every shard and AWS promises no order between them: ``report(key_order=False)``
still counts late counters but does not call them a failure; gaps and duplicates still count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from shardflow.consumer.records import Position, Record

# Counter fields tried, in order, when the user names none.
COUNTER_FIELD_GUESSES = ("taxiSeq", "seq", "counter", "sequence", "seqNo", "eventSeq", "n")
KEY_FIELD_GUESSES = ("taxiId", "taxi_id", "key", "id")
MAX_EXAMPLES = 10


@dataclass
class _KeyTrack:
    """Counters seen for one key, compactly: a contiguous run [first, low] and what lies above."""

    first: int
    low: int
    high: int
    above: set[int] = field(default_factory=set)
    below: set[int] = field(default_factory=set)  # below ``first``: arrived late
    shards: set[str] = field(default_factory=set)

    def seen(self, c: int) -> bool:
        return self.first <= c <= self.low or c in self.above or c in self.below

    def add(self, c: int) -> None:
        if c < self.first:
            self.below.add(c)
        elif c == self.low + 1:
            self.low = c
            while self.low + 1 in self.above:
                self.above.discard(self.low + 1)
                self.low += 1
        else:
            self.above.add(c)
        self.high = max(self.high, c)

    def missing(self) -> int:
        lowest = min(self.below, default=self.first)
        distinct = (self.low - self.first + 1) + len(self.above) + len(self.below)
        return (self.high - lowest + 1) - distinct

    def missing_ranges(self, limit: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        lowest = min(self.below, default=self.first)
        # Walk only the sparse parts: below the first counter, and above the contiguous run.
        gap_start: int | None = None
        for n in range(lowest, self.first):
            if n not in self.below:
                gap_start = n if gap_start is None else gap_start
            elif gap_start is not None:
                out.append((gap_start, n - 1))
                gap_start = None
        if gap_start is not None:
            out.append((gap_start, self.first - 1))
            gap_start = None
        for n in range(self.low + 1, self.high + 1):
            if n not in self.above:
                gap_start = n if gap_start is None else gap_start
            elif gap_start is not None:
                out.append((gap_start, n - 1))
                gap_start = None
            if len(out) >= limit:
                break
        if gap_start is not None and len(out) < limit:
            out.append((gap_start, self.high))
        return out[:limit]


@dataclass
class ShardCount:
    records: int = 0
    order_violations: int = 0  # sequence numbers not increasing
    last: Position | None = None


@dataclass
class Report:
    records: int
    shards: dict[str, ShardCount]
    keys: int
    key_field: str | None
    counter_field: str | None
    duplicates: int
    order_violations: int
    missing: int
    shard_order_violations: int
    unchecked: int  # records without a readable key or counter
    keys_on_several_shards: int
    violation_examples: list[str]
    gap_examples: list[str]
    duplicate_examples: list[str]
    key_order: bool = True  # per-key order is expected (False: AUTO record distribution)

    @property
    def ok(self) -> bool:
        late = self.order_violations if self.key_order else 0
        return not (late or self.missing or self.shard_order_violations)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["shards"] = {s: c.records for s, c in self.shards.items()}
        out["ok"] = self.ok
        return out


class Verifier:
    """Feed records in the order they were read; ``report()`` at the end."""

    def __init__(self, key_field: str | None = None, counter_field: str | None = None) -> None:
        self.key_field = key_field
        self.counter_field = counter_field
        self._guess = counter_field is None
        self._keys: dict[str, _KeyTrack] = {}
        self.shards: dict[str, ShardCount] = {}
        self.records = 0
        self.duplicates = 0
        self.order_violations = 0
        self.unchecked = 0
        self.violation_examples: list[str] = []
        self.duplicate_examples: list[str] = []

    def _detect(self, event: dict[str, Any]) -> None:
        for name in COUNTER_FIELD_GUESSES:
            if isinstance(event.get(name), int):
                self.counter_field = name
                break
        if self.key_field is None:
            for name in KEY_FIELD_GUESSES:
                if isinstance(event.get(name), str | int):
                    self.key_field = name
                    break
        self._guess = False

    def add(self, record: Record) -> None:
        self.records += 1
        shard = self.shards.get(record.shard_id)
        if shard is None:
            shard = self.shards[record.shard_id] = ShardCount()
        shard.records += 1
        position = record.position
        if shard.last is not None and position <= shard.last:
            shard.order_violations += 1
        shard.last = position
        key, counter = self._key_and_counter(record)
        if key is None or counter is None:
            self.unchecked += 1
            return
        track = self._keys.get(key)
        if track is None:
            self._keys[key] = track = _KeyTrack(counter, counter, counter)
            track.shards.add(record.shard_id)
            return
        track.shards.add(record.shard_id)
        if track.seen(counter):
            self.duplicates += 1
            if len(self.duplicate_examples) < MAX_EXAMPLES:
                self.duplicate_examples.append(f"key {key}: counter {counter} again")
            return
        if counter < track.high:
            self.order_violations += 1
            if len(self.violation_examples) < MAX_EXAMPLES:
                self.violation_examples.append(
                    f"key {key}: counter {counter} after {track.high}"
                    f" ({record.shard_id} seq {record.sequence_number})"
                )
        track.add(counter)

    def _key_and_counter(self, record: Record) -> tuple[str | None, int | None]:
        if self.counter_field is None and not self._guess:
            return None, None
        try:
            event = orjson.loads(record.data)
        except orjson.JSONDecodeError:
            return None, None
        if not isinstance(event, dict):
            return None, None
        if self._guess:
            self._detect(event)
            if self.counter_field is None:
                return None, None
        counter = event.get(self.counter_field or "")
        if not isinstance(counter, int) or isinstance(counter, bool):
            return None, None
        if self.key_field is None:
            return record.partition_key, counter
        key = event.get(self.key_field)
        return (None, None) if key is None else (str(key), counter)

    def report(self, key_order: bool = True) -> Report:
        """The findings; ``key_order=False`` when the stream spreads keys over shards (AUTO)."""
        missing = 0
        gap_examples: list[str] = []
        for key, track in sorted(self._keys.items()):
            lost = track.missing()
            if not lost:
                continue
            missing += lost
            if len(gap_examples) < MAX_EXAMPLES:
                for lo, hi in track.missing_ranges(MAX_EXAMPLES - len(gap_examples)):
                    span = f"{lo}" if lo == hi else f"{lo}..{hi}"
                    gap_examples.append(f"key {key}: counter {span} missing")
        return Report(
            records=self.records,
            shards=dict(sorted(self.shards.items())),
            keys=len(self._keys),
            key_field=self.key_field,
            counter_field=self.counter_field,
            duplicates=self.duplicates,
            order_violations=self.order_violations,
            missing=missing,
            shard_order_violations=sum(s.order_violations for s in self.shards.values()),
            unchecked=self.unchecked,
            keys_on_several_shards=sum(1 for t in self._keys.values() if len(t.shards) > 1),
            violation_examples=self.violation_examples,
            gap_examples=gap_examples,
            duplicate_examples=self.duplicate_examples,
            key_order=key_order,
        )
