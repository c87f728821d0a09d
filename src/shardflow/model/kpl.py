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
would build an object per user record, which costs more than the rest of aggregation. The
builder decides whether a record fits and commits it in one step, takes each record's head (the
bytes before its data: tags, lengths, key index) from a table keyed by key index and data length,
and defers every byte copy to one ``join``: two list items per user record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES = 16
AGGREGATION_MAX_BYTES = 51_200  # the KPL's default AggregationMaxSize


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


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One record as the user wrote it, recovered from an aggregate (or passed through)."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None
    subsequence: int = 0
    aggregated: bool = False  # False: the Kinesis record was not an aggregate


_VARINT = [varint(i) for i in range(1 << 14)]  # every 1- and 2-byte varint, precomputed
_KEY_TAG = b"\x0a"  # AggregatedRecord.partition_key_table (1), length-delimited
_HASH_KEY_TAG = b"\x12"  # AggregatedRecord.explicit_hash_key_table (2)
_RECORD_TAG = b"\x1a"  # AggregatedRecord.records (3)
_PK_INDEX_TAG = b"\x08"  # Record.partition_key_index (1), varint
_EHK_INDEX_TAG = b"\x10"  # Record.explicit_hash_key_index (2), varint
_DATA_TAG = b"\x1a"  # Record.data (3), length-delimited
EMPTY_SIZE = len(MAGIC) + DIGEST_BYTES  # an aggregate with no record yet
KEY_CACHE_MAX = 65_536  # encoded key-table entries remembered across aggregates
_key_entries: dict[str, bytes] = {}
HEAD_CACHE_MAX = 65_536  # record heads remembered, by (key index, data length)
_HEADS: dict[int, bytes] = {}
#: A record this much under the limit always fits an empty aggregate (tags, varints, key entry).
OVERHEAD_MARGIN = 64


def _vi(n: int) -> bytes:
    return _VARINT[n] if n < 0x4000 else varint(n)


def _vlen(n: int) -> int:
    if n < 0x80:
        return 1
    if n < 0x4000:
        return 2
    return len(varint(n))


def _key_entry(partition_key: str) -> bytes:
    """The key table entry of a partition key (tag, length, UTF-8), remembered."""
    entry = _key_entries.get(partition_key)
    if entry is None:
        if len(_key_entries) >= KEY_CACHE_MAX:
            _key_entries.clear()
        encoded = partition_key.encode()
        entry = _key_entries[partition_key] = _KEY_TAG + _vi(len(encoded)) + encoded
    return entry


def _head(index: int, n: int) -> bytes:
    """A Record's bytes before its data (tag, length, key index, data tag and length), for a
    record of ``n`` data bytes and key ``index``, without an explicit hash key; remembered."""
    inner = 1 + _vlen(index) + 1 + _vlen(n) + n
    head = _RECORD_TAG + _vi(inner) + _PK_INDEX_TAG + _vi(index) + _DATA_TAG + _vi(n)
    if len(_HEADS) >= HEAD_CACHE_MAX:
        _HEADS.clear()
    _HEADS[index << 32 | n] = head
    return head


class AggregateBuilder:
    """One aggregate being filled; ``try_add`` adds a record only if the result still fits."""

    __slots__ = ("count", "hash_keys", "keys", "max_bytes", "parts", "size")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.keys: dict[str, int] = {}
        self.hash_keys: dict[str, int] = {}
        self.parts: list[bytes] = []
        self.size = EMPTY_SIZE
        self.count = 0

    def try_add(self, partition_key: str, data: bytes, explicit_hash_key: str | None) -> bool:
        if explicit_hash_key is not None:
            return self._try_add_with_hash_key(partition_key, data, explicit_hash_key)
        n = len(data)
        index = self.keys.get(partition_key)
        if index is None:
            return self._try_add_new_key(partition_key, data)
        head = _HEADS.get(index << 32 | n) or _head(index, n)
        size = self.size + len(head) + n
        if size > self.max_bytes:
            return False
        self.parts += (head, data)
        self.size = size
        self.count += 1
        return True

    def _try_add_new_key(self, partition_key: str, data: bytes) -> bool:
        """A record whose key is not in this aggregate's table yet: the key entry goes first."""
        n = len(data)
        index = len(self.keys)
        key_entry = _key_entry(partition_key)
        head = _HEADS.get(index << 32 | n) or _head(index, n)
        size = self.size + len(key_entry) + len(head) + n
        if size > self.max_bytes:
            return False
        self.keys[partition_key] = index
        self.parts += (key_entry, head, data)
        self.size = size
        self.count += 1
        return True

    def _try_add_with_hash_key(
        self, partition_key: str, data: bytes, explicit_hash_key: str
    ) -> bool:
        keys = self.keys
        index = keys.get(partition_key)
        grow = 0
        key_entry = b""
        if index is None:
            key_entry = _key_entry(partition_key)
            index = len(keys)
            grow = len(key_entry)
        n = len(data)
        inner = 1 + _vlen(index) + 1 + _vlen(n) + n
        hash_bytes = b""
        hash_index = self.hash_keys.get(explicit_hash_key)
        if hash_index is None:
            hash_bytes = explicit_hash_key.encode("ascii")
            hash_index = len(self.hash_keys)
            grow += 1 + _vlen(len(hash_bytes)) + len(hash_bytes)
        inner += 1 + _vlen(hash_index)
        total = grow + 1 + _vlen(inner) + inner
        if self.size + total > self.max_bytes:
            return False
        parts = self.parts
        if key_entry:
            keys[partition_key] = index
            parts.append(key_entry)
        if hash_bytes:
            self.hash_keys[explicit_hash_key] = hash_index
            parts.append(_HASH_KEY_TAG + _vi(len(hash_bytes)) + hash_bytes)
        parts += (
            _RECORD_TAG,
            _vi(inner),
            _PK_INDEX_TAG,
            _vi(index),
            _EHK_INDEX_TAG,
            _vi(hash_index),
            _DATA_TAG,
            _vi(n),
            data,
        )
        self.size += total
        self.count += 1
        return True

    def encode(self) -> bytes:
        """Magic, protobuf, MD5 of the protobuf: the Kinesis record's data."""
        body = b"".join(self.parts)
        return b"".join((MAGIC, body, hashlib.md5(body).digest()))


def aggregate(records: list[tuple[str, bytes]]) -> bytes:
    """One aggregate of (partition key, data) pairs, whatever its size (tests, tools)."""
    builder = AggregateBuilder(max_bytes=1 << 62)
    for key, data in records:
        builder.try_add(key, data, None)
    return builder.encode()


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
