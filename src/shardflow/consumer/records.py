"""Records as the consumer hands them out, and turning a GetRecords page into them (pure)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shardflow.model.hashing import partition_hash
from shardflow.model.kpl import UserRecord, deaggregate, is_aggregate

HashRange = tuple[int, int]  # a shard's (StartingHashKey, EndingHashKey)
_key_hash = functools.lru_cache(maxsize=65_536)(partition_hash)  # MD5 costs more than a lookup


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a user record sits in its shard: (sequence, subsequence), compared numerically.

    ``SHARD_END`` is above every real position: the shard was read to its end.
    """

    sequence: int
    subsequence: int = 0

    @classmethod
    def of(cls, sequence_number: str, subsequence: int = 0) -> Position:
        return cls(int(sequence_number), subsequence)

    @property
    def sequence_number(self) -> str:
        return str(self.sequence)

    @property
    def is_shard_end(self) -> bool:
        return self.sequence == _SHARD_END_SEQUENCE

    def __str__(self) -> str:
        return "SHARD_END" if self.is_shard_end else f"{self.sequence}/{self.subsequence}"


# Sequence numbers have at most 128 bits, so 2^128 can never be a real one.
_SHARD_END_SEQUENCE = 1 << 128
SHARD_END = Position(_SHARD_END_SEQUENCE, 0)


class Record:
    """One user record: a plain Kinesis record, or one unpacked from a KPL aggregate."""

    __slots__ = (
        "aggregated",
        "approximate_arrival_timestamp",
        "data",
        "explicit_hash_key",
        "partition_key",
        "sequence_number",
        "shard_id",
        "subsequence_number",
    )

    def __init__(
        self,
        shard_id: str,
        sequence_number: str,
        subsequence_number: int,
        partition_key: str,
        data: bytes,
        approximate_arrival_timestamp: datetime | None = None,
        explicit_hash_key: str | None = None,
        aggregated: bool = False,
    ) -> None:
        self.shard_id = shard_id
        self.sequence_number = sequence_number
        self.subsequence_number = subsequence_number
        self.partition_key = partition_key
        self.data = data
        self.approximate_arrival_timestamp = approximate_arrival_timestamp
        self.explicit_hash_key = explicit_hash_key
        self.aggregated = aggregated

    @property
    def position(self) -> Position:
        return Position(int(self.sequence_number), self.subsequence_number)

    def __repr__(self) -> str:
        return (
            f"Record(shard_id={self.shard_id!r}, sequence_number={self.sequence_number!r},"
            f" subsequence_number={self.subsequence_number}, partition_key={self.partition_key!r},"
            f" data={self.data[:40]!r}{'...' if len(self.data) > 40 else ''})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class Batch:
    """The user records of one GetRecords page of one shard, in shard order.

    A page read ahead of the application keeps only botocore's response; its records are
    unpacked when first asked for. Holding many thousands of records per queued page would
    make Python's garbage collector scan them again and again.
    """

    __slots__ = (
        "_deaggregate",
        "_hash_range",
        "_raw",
        "_records",
        "last",
        "millis_behind_latest",
        "shard_id",
    )

    def __init__(
        self,
        shard_id: str,
        records: list[Record] | None = None,
        millis_behind_latest: int = 0,
        *,
        raw: list[dict[str, Any]] | None = None,
        deaggregate_records: bool = True,
        hash_range: HashRange | None = None,
    ) -> None:
        self.shard_id = shard_id
        self.millis_behind_latest = millis_behind_latest
        self._deaggregate = deaggregate_records
        self._hash_range = hash_range
        self._raw = raw
        self._records = records
        if records is None:
            assert raw, "a batch needs records or a non-empty page"
            self.last = _last_position(raw[-1], deaggregate_records)
        else:
            self.last = records[-1].position

    @classmethod
    def of_page(
        cls,
        shard_id: str,
        raw: list[dict[str, Any]],
        millis: int,
        deaggregate_records: bool,
        hash_range: HashRange | None = None,
    ) -> Batch | None:
        """A lazily unpacked batch of a non-empty page; None if the page has no user records."""
        try:
            return cls(
                shard_id,
                None,
                millis,
                raw=raw,
                deaggregate_records=deaggregate_records,
                hash_range=hash_range,
            )
        except _EmptyAggregate:
            records = unpack(
                shard_id, raw, deaggregate_records=deaggregate_records, hash_range=hash_range
            )
            return cls(shard_id, records, millis) if records else None

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            assert self._raw is not None
            self._records = unpack(
                self.shard_id,
                self._raw,
                deaggregate_records=self._deaggregate,
                hash_range=self._hash_range,
            )
            self._raw = None
        return self._records

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return (
            f"Batch(shard_id={self.shard_id!r}, last={self.last},"
            f" millis_behind_latest={self.millis_behind_latest})"
        )


class _EmptyAggregate(Exception):
    """The page ends with an aggregate holding no records: its last position is elsewhere."""


def _last_position(raw: dict[str, Any], deaggregate_records: bool) -> Position:
    seq = int(raw["SequenceNumber"])
    if deaggregate_records and is_aggregate(raw["Data"]):
        users = deaggregate(raw.get("PartitionKey", ""), raw["Data"])
        if not users:
            raise _EmptyAggregate
        return Position(seq, users[-1].subsequence)
    return Position(seq, 0)


def unpack(
    shard_id: str,
    raw_records: list[dict[str, Any]],
    *,
    deaggregate_records: bool = True,
    after: Position | None = None,
    hash_range: HashRange | None = None,
) -> list[Record]:
    """User records of a GetRecords page, dropping those at or below ``after``.

    ``after`` is the checkpoint when resuming AT_SEQUENCE_NUMBER: the aggregate holding it is
    read again, and only its user records past the checkpoint are new. With ``hash_range``
    (the shard's), aggregated user records outside it are dropped (see ``_in_range``).
    """
    if after is not None:
        return _unpack_after(shard_id, raw_records, deaggregate_records, after, hash_range)
    out: list[Record] = []
    append = out.append
    make = Record
    for raw in raw_records:  # the hot loop: keep it free of per-record checks
        seq = raw["SequenceNumber"]
        data = raw["Data"]
        arrival = raw.get("ApproximateArrivalTimestamp")
        if deaggregate_records and is_aggregate(data):
            users = deaggregate(raw.get("PartitionKey", ""), data)
            if hash_range is not None:
                users = _in_range(users, hash_range)
            for u in users:
                append(
                    make(
                        shard_id,
                        seq,
                        u.subsequence,
                        u.partition_key,
                        u.data,
                        arrival,
                        u.explicit_hash_key,
                        u.aggregated,
                    )
                )
        else:
            append(make(shard_id, seq, 0, raw.get("PartitionKey", ""), data, arrival))
    return out


def _in_range(users: list[UserRecord], hash_range: HashRange) -> list[UserRecord]:
    """The user records of an aggregate that belong to its shard, as the KCL keeps them.

    An aggregate is routed by one hash key; if the shard it was meant for split meanwhile, it
    lands in one child holding records of keys that now belong to the other. The producer
    (ours, and the KPL) writes those again where they belong; the copies here are dropped, so
    each key's records stay in its own shard's order.
    """
    low, high = hash_range
    return [u for u in users if not u.aggregated or low <= _hash_key(u) <= high]


def _hash_key(user: UserRecord) -> int:
    if user.explicit_hash_key:
        return int(user.explicit_hash_key)
    return _key_hash(user.partition_key)


def _unpack_after(
    shard_id: str,
    raw_records: list[dict[str, Any]],
    deaggregate_records: bool,
    after: Position,
    hash_range: HashRange | None = None,
) -> list[Record]:
    """``unpack`` of the first page after resuming: drops records at or below ``after``."""
    tail: list[dict[str, Any]] = []
    out: list[Record] = []
    for i, raw in enumerate(raw_records):
        seq = int(raw["SequenceNumber"])
        if seq > after.sequence:
            tail = raw_records[i:]
            break
        if seq == after.sequence:
            out = [
                r
                for r in unpack(
                    shard_id, [raw], deaggregate_records=deaggregate_records, hash_range=hash_range
                )
                if r.subsequence_number > after.subsequence and r.aggregated
            ]
    return out + unpack(
        shard_id, tail, deaggregate_records=deaggregate_records, hash_range=hash_range
    )
