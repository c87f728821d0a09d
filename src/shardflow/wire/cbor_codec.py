"""CBOR 1.1 (application/x-amz-cbor-1.1): the AWS SDK for Java's default protocol for Kinesis.

The shapes are JSON 1.1's; only the encoding differs (sources in docs/cbor.md):

- blobs are CBOR byte strings (major type 2), not base64 text;
- timestamps are tag 1 around an INTEGER count of epoch MILLISECONDS, both ways (RFC 8949 says
  seconds; the Java SDKs write ``Instant.toEpochMilli()`` and parse the number with
  ``Long.parseLong``, so a float or a seconds value breaks them);
- errors are a CBOR map ``{"__type": ..., "message": ...}`` with JSON's status and headers.

Handlers know nothing of this. They return blobs as ``bytes`` and timestamps as float epoch
seconds; which members are timestamps comes from botocore's Kinesis model, compiled once into a
plan per operation (the members on the way to a timestamp), so a response costs one walk of its
own values and no model look-ups. Incoming timestamps (tag 1, or a bare number where the model
has a timestamp) become float seconds before ``RequestSchema.parse`` sees them. The plans are
``cbor_plans``, the request side ``cbor_requests``; this module encodes.

Encoding is done here rather than by cbor2, whose containers cost ~0.4 us each: a GetRecords
page of 10,000 records is a list of flat maps, encoded column by column with C-level ``map``
and one ``join`` (see ``_encode_rows``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import cbor2
from botocore.loaders import Loader

from shardflow.wire.cbor_plans import TS, ListPlan, MapPlan, Plan, Planner, StructPlan
from shardflow.wire.cbor_requests import Millis, decode, normalize
from shardflow.wire.record_rows import RecordRows

__all__ = ["CONTENT_TYPE", "CborCodec", "Millis", "decode", "encode_value"]

CONTENT_TYPE = "application/x-amz-cbor-1.1"

_SERVICE = "kinesis"
_API_VERSION = "2013-12-02"

# Major types (RFC 8949 section 3.1), shifted into the initial byte's top three bits.
_UINT, _NINT, _BYTES, _TEXT, _ARRAY, _MAP = (m << 5 for m in range(6))
_FALSE, _TRUE, _NULL = b"\xf4", b"\xf5", b"\xf6"
_DOUBLE = struct.Struct(">Bd")
_TS_PREFIX = b"\xc1\x1b"  # tag 1, then a uint64: every epoch-ms value after 1970-02-19
_UINT64_MIN = 2**32  # below this a uint64 is not the shortest (preferred) form
_UINT64_END = 2**64
# Below this many elements a list is encoded element by element: columns only pay off in bulk.
_COLUMNS_MIN = 8
_PIECES_MAX = 4096  # distinct lengths remembered per member (record sizes vary up to 10 MiB)


# --- encoding --------------------------------------------------------------------------------
#
# A data item is an initial byte (major type | argument) and, for arguments of 24 and above,
# 1, 2, 4 or 8 big-endian bytes:
#
#     +--------+--------+--------+            +------+--------------------------+
#     | MT|ai  | argument (0/1/2/4/8 B) |  ...  | c1 1b | epoch ms, uint64 (8 B) |
#     +--------+--------+--------+            +------+--------------------------+
#      text/bytes: the argument is the length, then the bytes;  a timestamp: tag 1, uint64
#      array/map: the argument is the count, then the items (a map: key, value, key, value ...)


@lru_cache(maxsize=4096)
def _head(major: int, n: int) -> bytes:
    """The initial byte and argument of a data item of ``major`` type (shortest form)."""
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return bytes((major | 24, n))
    if n < 0x10000:
        return bytes((major | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((major | 26,)) + n.to_bytes(4, "big")
    return bytes((major | 27,)) + n.to_bytes(8, "big")


@lru_cache(maxsize=1024)
def _text(value: str) -> bytes:
    """A text string item; cached, since member names repeat in every response."""
    data = value.encode()
    return _head(_TEXT, len(data)) + data


def _int(value: int) -> bytes:
    if 0 <= value < _UINT64_END:
        return _head(_UINT, value)
    if -_UINT64_END <= value < 0:
        return _head(_NINT, -1 - value)
    return cbor2.dumps(value)  # a bignum (tags 2 and 3)


def _timestamp(value: Any) -> bytes:
    """Tag 1 around integer epoch milliseconds, from float seconds (or a datetime)."""
    if type(value) is datetime:
        value = value.timestamp()
    return b"\xc1" + _int(round(value * 1000))


def _encode(value: Any, plan: Plan, out: list[bytes]) -> None:
    """Append the encoding of ``value`` to ``out``; ``plan`` marks its timestamps."""
    if value is None:
        out.append(_NULL)
        return
    if plan is TS:
        out.append(_timestamp(value))
        return
    t = type(value)
    if t is str:
        data = value.encode()
        out.append(_head(_TEXT, len(data)))
        out.append(data)
    elif t is dict:
        out.append(_head(_MAP, len(value)))
        members = plan.members if type(plan) is StructPlan else None
        values = plan.value if type(plan) is MapPlan else None
        for key, item in value.items():
            out.append(_text(key) if type(key) is str else encode_value(key))
            _encode(item, members.get(key) if members is not None else values, out)
    elif t is list or t is tuple:
        element = plan.element if type(plan) is ListPlan else None
        if len(value) < _COLUMNS_MIN or not _encode_rows(value, element, out):
            out.append(_head(_ARRAY, len(value)))
            for item in value:
                _encode(item, element, out)
    elif t is bytes or t is bytearray or t is memoryview:
        out.append(_head(_BYTES, len(value)))
        out.append(bytes(value) if t is memoryview else value)
    elif t is RecordRows:
        _encode_record_rows(value, plan, out)
    elif t is bool:
        out.append(_TRUE if value else _FALSE)
    elif t is int:
        out.append(_int(value))
    elif t is float:
        out.append(_DOUBLE.pack(0xFB, value))
    else:
        out.append(cbor2.dumps(value))  # anything else cbor2 knows (datetime as tag 0, ...)


class _Pieces(dict[int, bytes]):
    """``n -> prefix + head(major, n)``: a member's key and its value's head in one piece.

    A dict, so ``map(pieces.__getitem__, lengths)`` stays in C for every length seen before.
    """

    def __init__(self, prefix: bytes, major: int) -> None:
        super().__init__()
        self.prefix, self.major = prefix, major

    def __missing__(self, n: int) -> bytes:
        piece = self.prefix + _head(self.major, n)
        if len(self) < _PIECES_MAX:
            self[n] = piece
        return piece


@lru_cache(maxsize=256)
def _keyed(prefix: bytes, major: int) -> _Pieces:
    return _Pieces(prefix, major)


@lru_cache(maxsize=256)
def _ts_packer(prefix_len: int) -> Callable[[bytes, int], bytes]:
    return struct.Struct(f">{prefix_len}sQ").pack


def _encode_rows(rows: list[Any] | tuple[Any, ...], plan: Plan, out: list[bytes]) -> bool:
    """Encode a list of flat maps column by column; False (nothing written) if it is not one.

    Every row must have the first row's members and no others, each member holding text, bytes
    or (where the plan says so) a timestamp in every row (see ``_encode_columns``).
    """
    first = rows[0]
    if type(first) is not dict or not first:
        return False
    if set(map(len, rows)) != {len(first)}:  # with every key of the first row present: same keys
        return False
    try:
        columns = [list(map(itemgetter(key), rows)) for key in first]
    except KeyError:
        return False
    return _encode_columns(list(first), columns, plan, out)


def _encode_columns(
    keys: list[Any], columns: list[list[Any]], plan: Plan, out: list[bytes]
) -> bool:
    """Encode rows given as columns (one per member, in ``keys`` order) as an array of maps;
    False (nothing written) unless each column holds text, bytes or (where the plan says so)
    timestamps throughout.

    A column is converted with C-level ``map`` calls and the rows are interleaved by ``zip``
    for the one final ``join``: per record, a handful of C calls instead of a Python loop over
    every member (GetRecords returns up to 10,000 records). Type checks come free:
    ``str.encode``, ``bytes.__len__`` and ``float.__mul__`` (returning NotImplemented, which
    ``round`` refuses) reject other types.
    """
    members = plan.members if type(plan) is StructPlan else {}
    pieces: list[Iterable[bytes]] = []
    prefix = _head(_MAP, len(keys))  # each row's map head rides on its first member's key
    try:
        for key, values in zip(keys, columns, strict=True):
            prefix += _text(key) if type(key) is str else encode_value(key)
            if members.get(key) is TS:
                millis = list(map(round, map((1000.0).__mul__, values)))
                if min(millis) < _UINT64_MIN or max(millis) >= _UINT64_END:
                    return False
                pack = _ts_packer(len(prefix) + 2)
                pieces.append(map(pack, repeat(prefix + _TS_PREFIX), millis))
            elif type(values[0]) is str:
                encoded = list(map(str.encode, values))
                pieces.append(map(_keyed(prefix, _TEXT).__getitem__, map(len, encoded)))
                pieces.append(encoded)
            elif type(values[0]) is bytes:
                pieces.append(
                    map(_keyed(prefix, _BYTES).__getitem__, list(map(bytes.__len__, values)))
                )
                pieces.append(values)
            else:
                return False
            prefix = b""
    except (KeyError, TypeError, ValueError, OverflowError):
        return False
    out.append(_head(_ARRAY, len(columns[0])))
    out.extend(chain.from_iterable(zip(*pieces, strict=True)))
    return True


def _encode_record_rows(rows: RecordRows, plan: Plan, out: list[bytes]) -> None:
    """A page of records: a ``uniform`` one by its columns, any other as its Record dicts."""
    element = plan.element if type(plan) is ListPlan else None
    if len(rows) >= _COLUMNS_MIN and rows.uniform():
        keys = ["SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"]
        numbers = list(map(str, rows.sequence_numbers))
        columns: list[list[Any]] = [
            numbers,
            list(rows.seconds()),
            list(rows.datas),
            list(rows.keys),
        ]
        if _encode_columns(keys, columns, element, out):
            return
    _encode(rows.shapes(), plan, out)


def encode_value(value: Any, plan: Plan = None) -> bytes:
    """One data item; ``plan`` marks which members are timestamps."""
    out: list[bytes] = []
    _encode(value, plan, out)
    return b"".join(out)


# --- the codec -------------------------------------------------------------------------------


class CborCodec:
    """Built once at start-up from botocore's Kinesis model: a timestamp plan per operation."""

    def __init__(self) -> None:
        model = Loader().load_service_model(_SERVICE, "service-2", api_version=_API_VERSION)
        planner = Planner(model["shapes"])
        self._inputs: dict[str, Plan] = {}
        self._outputs: dict[str, Plan] = {}
        for op, spec in model["operations"].items():
            if "input" in spec:
                self._inputs[op] = planner.plan(spec["input"]["shape"])
            if "output" in spec:
                self._outputs[op] = planner.plan(spec["output"]["shape"])

    def request(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
        """A decoded request with its timestamps as float seconds, ready for the schema."""
        plan = self._inputs.get(operation)
        if plan is None:
            return data
        result: dict[str, Any] = normalize(data, plan)
        return result

    def response(self, operation: str, payload: dict[str, Any]) -> bytes:
        """Encode a handler's result; an empty result is an empty body, as in JSON 1.1."""
        if not payload:
            return b""
        return encode_value(payload, self._outputs.get(operation))

    def event(self, operation: str, event_type: str, payload: dict[str, Any]) -> bytes:
        """An event-stream event's payload (e.g. SubscribeToShard's SubscribeToShardEvent):
        the event shape is a member of the output's event-stream member."""
        plan: Plan = None
        output = self._outputs.get(operation)
        if isinstance(output, StructPlan):
            for member in output.members.values():
                if isinstance(member, StructPlan) and event_type in member.members:
                    plan = member.members[event_type]
        return encode_value(payload, plan)

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        """An error body: the same ``__type``/``message`` map JSON 1.1 sends."""
        return encode_value(body)
