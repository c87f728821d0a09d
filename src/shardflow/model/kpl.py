"""The KPL aggregated record format: many user records in one Kinesis record (pure, no I/O).

Layout (what the KPL writes and the KCL and aws-kinesis-agg read)::

    F3 89 9A C2                 magic
    AggregatedRecord            protobuf (proto2):
        1: repeated string partition_key_table
        2: repeated string explicit_hash_key_table
        3: repeated Record records
                1: uint64 partition_key_index       (required)
                2: uint64 explicit_hash_key_index   (optional)
                3: bytes  data                      (required)
                4: repeated Tag tags                (unused here)
    MD5(AggregatedRecord bytes) 16 bytes

Only three message shapes are involved, so they are encoded by hand: a general protobuf runtime
would build an object per user record, which costs more than the rest of aggregation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES = 16
AGGREGATION_MAX_BYTES = 51_200  # the KPL's default AggregationMaxSize
_KEY_TAG = b"\x0a"  # field 1, length-delimited
_HASH_KEY_TAG = b"\x12"  # field 2, length-delimited
_RECORD_TAG = b"\x1a"  # field 3, length-delimited
_PK_INDEX_TAG = b"\x08"  # Record field 1, varint
_EHK_INDEX_TAG = b"\x10"  # Record field 2, varint
_DATA_TAG = b"\x1a"  # Record field 3, length-delimited


def varint(value: int) -> bytes:
    """Protobuf base-128 varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_len(value: int) -> int:
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One record as the user wrote it, recovered from an aggregate (or passed through)."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None
    subsequence: int = 0
    aggregated: bool = False  # False: the Kinesis record was not an aggregate


class Aggregator:
    """Builds one aggregated record incrementally, tracking its exact encoded size.

    ``fits`` says whether a record can join without the aggregate growing past ``max_bytes``
    (the Kinesis record: magic, protobuf and digest; the caller adds its own partition key).
    """

    def __init__(self, max_bytes: int = AGGREGATION_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._keys: dict[str, int] = {}
        self._hash_keys: dict[str, int] = {}
        self._parts: list[bytes] = []  # encoded table entries and records, in any order
        self._size = len(MAGIC) + DIGEST_BYTES
        self.count = 0
        self.first_key: str | None = None
        self.first_hash_key: str | None = None

    @property
    def size(self) -> int:
        return self._size

    def cost(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> int:
        """Bytes the aggregate grows by if this record joins."""
        grow = 0
        key_index = self._keys.get(partition_key)
        if key_index is None:
            key_bytes = len(partition_key.encode("utf-8"))
            grow += 1 + _varint_len(key_bytes) + key_bytes
            key_index = len(self._keys)
        inner = 1 + _varint_len(key_index) + 1 + _varint_len(len(data)) + len(data)
        if explicit_hash_key is not None:
            hash_index = self._hash_keys.get(explicit_hash_key)
            if hash_index is None:
                hk = len(explicit_hash_key)
                grow += 1 + _varint_len(hk) + hk
                hash_index = len(self._hash_keys)
            inner += 1 + _varint_len(hash_index)
        return grow + 1 + _varint_len(inner) + inner

    def fits(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> bool:
        return self._size + self.cost(partition_key, data, explicit_hash_key) <= self.max_bytes

    def add(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> int:
        """Append a user record; returns its subsequence number within the aggregate."""
        self._size += self.cost(partition_key, data, explicit_hash_key)
        key_index = self._keys.get(partition_key)
        if key_index is None:
            key_index = self._keys[partition_key] = len(self._keys)
            encoded = partition_key.encode("utf-8")
            self._parts.append(_KEY_TAG + varint(len(encoded)) + encoded)
        inner = _PK_INDEX_TAG + varint(key_index)
        if explicit_hash_key is not None:
            hash_index = self._hash_keys.get(explicit_hash_key)
            if hash_index is None:
                hash_index = self._hash_keys[explicit_hash_key] = len(self._hash_keys)
                encoded = explicit_hash_key.encode("ascii")
                self._parts.append(_HASH_KEY_TAG + varint(len(encoded)) + encoded)
            inner += _EHK_INDEX_TAG + varint(hash_index)
        inner += _DATA_TAG + varint(len(data)) + data
        self._parts.append(_RECORD_TAG + varint(len(inner)) + inner)
        if self.count == 0:
            self.first_key, self.first_hash_key = partition_key, explicit_hash_key
        self.count += 1
        return self.count - 1

    def encode(self) -> bytes:
        """The Kinesis record's data: magic, protobuf, MD5 of the protobuf.

        Protobuf parsers accept repeated fields interleaved, so table entries and records are
        written in the order they were added; each table keeps its own order.
        """
        body = b"".join(self._parts)
        return MAGIC + body + hashlib.md5(body).digest()


def aggregate(records: list[tuple[str, bytes]]) -> bytes:
    """One aggregate of (partition key, data) pairs, whatever its size (tests, tools)."""
    agg = Aggregator(max_bytes=1 << 62)
    for key, data in records:
        agg.add(key, data)
    return agg.encode()


def is_aggregate(data: bytes) -> bool:
    return len(data) > len(MAGIC) + DIGEST_BYTES and data[:4] == MAGIC


def deaggregate(partition_key: str, data: bytes) -> list[UserRecord]:
    """The user records in a Kinesis record, as the KCL recovers them.

    A record that is not a well-formed aggregate (magic, length, digest, protobuf) passes through
    unchanged as a single user record, which is what the KCL does.
    """
    if not is_aggregate(data):
        return [UserRecord(partition_key, data)]
    body, digest = data[4:-DIGEST_BYTES], data[-DIGEST_BYTES:]
    if hashlib.md5(body).digest() != digest:
        return [UserRecord(partition_key, data)]
    try:
        return list(_parse_aggregate(body))
    except (ValueError, IndexError):
        return [UserRecord(partition_key, data)]


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field in a protobuf message."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > end:
                raise ValueError("truncated field")
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if pos != end:
        raise ValueError("truncated message")


def _parse_aggregate(body: bytes) -> Iterator[UserRecord]:
    keys: list[str] = []
    hash_keys: list[str] = []
    raw_records: list[bytes] = []
    for number, wire, value in _fields(body):
        if wire != 2:
            continue
        assert isinstance(value, bytes)
        if number == 1:
            keys.append(value.decode("utf-8"))
        elif number == 2:
            hash_keys.append(value.decode("ascii"))
        elif number == 3:
            raw_records.append(value)
    for subsequence, raw in enumerate(raw_records):
        key_index = hash_index = None
        data = None
        for number, wire, value in _fields(raw):
            if number == 1 and wire == 0:
                key_index = value
            elif number == 2 and wire == 0:
                hash_index = value
            elif number == 3 and wire == 2:
                data = value
        if key_index is None or data is None:
            raise ValueError("record without partition key index or data")
        assert isinstance(key_index, int) and isinstance(data, bytes)
        hash_key = hash_keys[hash_index] if isinstance(hash_index, int) else None
        yield UserRecord(keys[key_index], data, hash_key, subsequence, aggregated=True)
