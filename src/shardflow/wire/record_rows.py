"""GetRecords' Records (and SubscribeToShardEvent's) as the page's columns, shaped by the codec.

A page holds up to 10,000 records. The handler used to build a Record dict per record from a
``StoredRecord`` per row, with a branch per record for the optional members; now the read hands
over columns and each codec shapes them its own way: CBOR writes the array column by column
(``cbor_codec``), JSON builds the dicts in one comprehension (``json_records``) and lets orjson
write them, asking for each Data's base64 as it goes.

Only the common page takes the fast road: every record with a partition key and none encrypted
(``uniform``). Records written without a key (AUTO distribution, no ``PartitionKey`` member)
or while the stream encrypted (an ``EncryptionType`` member) make the page fall back to the
Record dicts of ``shapes``, encoded as any other value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from operator import truediv
from typing import Any

from shardflow.model.enums import EncryptionType


class RecordRows:
    """The Record shapes of one read, by column (member order as AWS sends them). Not a
    dataclass: orjson would write one as an object of its fields instead of asking
    ``json_codec``'s default."""

    __slots__ = ("arrivals_ms", "datas", "encrypted", "keys", "sequence_numbers")

    def __init__(
        self,
        sequence_numbers: Sequence[int],
        arrivals_ms: Sequence[int],
        datas: Sequence[bytes],
        keys: Sequence[str],
        encrypted: Sequence[bool] | None = None,
    ) -> None:
        self.sequence_numbers = sequence_numbers  # the integers behind the 56-digit numbers
        self.arrivals_ms = arrivals_ms  # ApproximateArrivalTimestamp in epoch milliseconds
        self.datas = datas
        self.keys = keys  # "" for a record written without one: no PartitionKey member
        self.encrypted = encrypted  # EncryptionType KMS per record; None: none is

    def __len__(self) -> int:
        return len(self.datas)

    def uniform(self) -> bool:
        """Every record has the same members (a partition key, no EncryptionType)."""
        return (self.encrypted is None or not any(self.encrypted)) and all(self.keys)

    def seconds(self) -> Iterator[float]:
        """ApproximateArrivalTimestamp as the float epoch seconds handlers use for timestamps."""
        return map(truediv, self.arrivals_ms, repeat(1000))

    def shapes(self) -> list[dict[str, Any]]:
        """The Record dicts, for pages that are not ``uniform`` (and anything that wants dicts)."""
        encrypted = self.encrypted if self.encrypted is not None else [False] * len(self)
        records: list[dict[str, Any]] = []
        for number, seconds, data, key, kms in zip(
            self.sequence_numbers, self.seconds(), self.datas, self.keys, encrypted, strict=True
        ):
            record: dict[str, Any] = {
                "SequenceNumber": str(number),
                "ApproximateArrivalTimestamp": seconds,
                "Data": data,
            }
            if key:  # written without one (AUTO distribution): AWS omits it
                record["PartitionKey"] = key
            if kms:  # AWS omits the field for records written unencrypted
                record["EncryptionType"] = EncryptionType.KMS
            records.append(record)
        return records

    def json_records(self) -> list[dict[str, Any]]:
        """The Record dicts of a ``uniform`` page, built in one comprehension over the columns.

        Data stays bytes: orjson asks json_codec's default for its base64 record by record, so
        one base64 string is alive at a time and its memory is reused. (Writing the whole
        array from columns was tried: 10,000 base64 strings alive at once, 14 MB, were fresh
        pages to fault in on every call and cost more than the dicts save.)"""
        numbers = list(map(str, self.sequence_numbers))
        return [
            {
                "SequenceNumber": n,
                "ApproximateArrivalTimestamp": t,
                "Data": d,
                "PartitionKey": k,
            }
            for n, t, d, k in zip(numbers, self.seconds(), self.datas, self.keys, strict=True)
        ]
