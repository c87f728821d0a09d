"""Records as the consumer hands them out, and turning a GetRecords page into them (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shardflow.model.kpl import deaggregate, is_aggregate


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


@dataclass(frozen=True, slots=True)
class Batch:
    """The user records of one GetRecords page of one shard, in shard order."""

    shard_id: str
    records: list[Record]
    millis_behind_latest: int

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> Position:
        return self.records[-1].position


def unpack(
    shard_id: str,
    raw_records: list[dict[str, Any]],
    *,
    deaggregate_records: bool = True,
    after: Position | None = None,
) -> list[Record]:
    """User records of a GetRecords page, dropping those at or below ``after``.

    ``after`` is the checkpoint when resuming AT_SEQUENCE_NUMBER: the aggregate holding it is
    read again, and only its user records past the checkpoint are new.
    """
    out: list[Record] = []
    append = out.append
    skip_to = after.sequence if after is not None else -1
    for raw in raw_records:
        seq = raw["SequenceNumber"]
        if skip_to >= 0:
            if int(seq) < skip_to:
                continue
            if int(seq) > skip_to:
                skip_to = -1
        data = raw["Data"]
        key = raw["PartitionKey"]
        arrival = raw.get("ApproximateArrivalTimestamp")
        if deaggregate_records and is_aggregate(data):
            for user in deaggregate(key, data):
                sub = user.subsequence
                if skip_to >= 0 and after is not None and sub <= after.subsequence:
                    continue
                append(
                    Record(
                        shard_id,
                        seq,
                        sub,
                        user.partition_key,
                        user.data,
                        arrival,
                        user.explicit_hash_key,
                        user.aggregated,
                    )
                )
        elif skip_to < 0:
            append(Record(shard_id, seq, 0, key, data, arrival))
        # else: the checkpointed plain record itself, already delivered
    return out
