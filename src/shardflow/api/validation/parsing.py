"""Step 1 of validation: JSON types against the operation's input shape.

A wrong type is a ``SerializationException`` with AWS's message (first offender in document
order, as a streaming parser finds it); blobs become ``bytes``, timestamps ``float`` seconds,
unknown members and nulls are dropped. The wording is AWS's (``quirks``).
"""

from __future__ import annotations

import binascii
import math
import re
from datetime import datetime
from typing import Any

import pybase64

from shardflow import errors
from shardflow.api.validation.nodes import BLOB, BOOL, FLOAT, INT, LIST, MAP, STR, STRUCT, TS, Node
from shardflow.api.validation.quirks import (
    BOOLEAN_STRINGS,
    JAVA_INT,
    JAVA_LONG,
    NUMBER_CLASS,
    START_OF_LIST,
    START_OF_MAP,
    TS_LIMIT_S,
)

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64_ALPHABET)}
_B64_BAD = re.compile(r"[^a-zA-Z0-9+/=]|=[^=]")


def _serialization_error(message: str) -> errors.KinesisError:
    return errors.SerializationException(message)


def _scalar_type_error(node: Node, v: Any) -> errors.KinesisError:
    """The SerializationException AWS gives for ``v`` where ``node`` is expected."""
    if type(v) is list:
        return _serialization_error(START_OF_LIST)
    if type(v) is dict:
        return _serialization_error(START_OF_MAP)
    if type(v) is bool:
        source = "class java.lang.Boolean"
    elif type(v) is str:
        source = "class java.lang.String"
    else:
        source = NUMBER_CLASS
    kind = node.kind
    if kind is BLOB:
        return _serialization_error(f"{source} can not be converted to a Blob")
    if kind is TS:
        return _serialization_error(f"{source} can not be converted to milliseconds since epoch")
    if kind is BOOL and type(v) is str:
        return _serialization_error(f"'{v.upper()}' can not be converted to an Boolean")
    # Sic: "an String", "an Integer", "an Boolean" are all AWS's wording.
    return _serialization_error(f"{source} can not be converted to an {node.java_type}")


def _blob_error(v: str) -> errors.KinesisError:
    prefix = f"'{v}' can not be converted to a Blob: "
    if len(v) % 4:
        return _serialization_error(
            prefix + f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(v)}"
        )
    bad = _B64_BAD.search(v)
    if bad is not None:
        return _serialization_error(prefix + f"Invalid Base64 character: '{bad.group()[0]}'")
    # Sic: "dectected" is AWS's spelling.
    return _serialization_error(prefix + "Invalid last non-pad Base64 character dectected")


def _parse_blob(v: str) -> bytes:
    n = len(v)
    if n & 3:
        raise _blob_error(v)
    try:
        data = pybase64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise _blob_error(v) from None
    # strict_mode ignores the bits padding discards; AWS insists they are zero.
    if n and v[n - 1] == "=":
        if v[n - 2] == "=":
            if _B64_INDEX[v[n - 3]] & 0xF:
                raise _blob_error(v)
        elif _B64_INDEX[v[n - 2]] & 0x3:
            raise _blob_error(v)
    return data


def _to_java_int(v: int | float, bounds: tuple[int, int]) -> int:
    if type(v) is float:
        if not math.isfinite(v):
            return bounds[1] if v > 0 else bounds[0]
        v = math.floor(v)
    lo, hi = bounds
    return lo if v < lo else hi if v > hi else int(v)


def _timestamp_seconds(v: int | float) -> float:
    """A timestamp as float seconds, out-of-range values held at the far past or future."""
    if type(v) is int and not -TS_LIMIT_S <= v <= TS_LIMIT_S:
        return TS_LIMIT_S if v > 0 else -TS_LIMIT_S
    seconds = float(v)
    if seconds != seconds:  # NaN (CBOR can carry one)
        raise _serialization_error("NaN is not a timestamp")
    return max(-TS_LIMIT_S, min(TS_LIMIT_S, seconds))


def parse_value(node: Node, v: Any) -> Any:
    """Check one non-null JSON value against ``node`` and return its converted form."""
    kind = node.kind
    t = type(v)
    if kind is STR:
        if t is str:
            return v
    elif kind is STRUCT:
        if t is dict:
            return parse_struct(node, v)
        if t is list:
            raise _serialization_error(START_OF_LIST)
        raise _serialization_error("Expected null")
    elif kind is LIST:
        if t is list:
            member = node.member
            assert member is not None
            return [None if x is None else parse_value(member, x) for x in v]
        if t is dict:
            raise _serialization_error(START_OF_MAP)
        raise _serialization_error("Expected list or null")
    elif kind is MAP:
        if t is dict:
            key, value = node.key, node.value
            assert key is not None and value is not None
            return {
                parse_value(key, k): None if x is None else parse_value(value, x)
                for k, x in v.items()
            }
        if t is list:
            raise _serialization_error(START_OF_LIST)
        raise _serialization_error("Expected map or null")
    elif kind is BLOB:
        if t is str:
            return _parse_blob(v)
        if t is bytes:
            return v  # a CBOR byte string needs no decoding (kinesalite accepts Buffers too)
    elif kind is INT:
        if t is int or t is float:
            return _to_java_int(v, JAVA_LONG if node.java_type == "Long" else JAVA_INT)
    elif kind is TS:
        # JSON 1.1 timestamps are epoch seconds; AWS refuses strings here (kinesalite helpers).
        if t is int or t is float:
            return _timestamp_seconds(v)
        if t is datetime:
            return v.timestamp()  # CBOR tag 1, as cbor2 decodes it
    elif kind is BOOL:
        if t is bool:
            return v
        if t is str and v.lower() in BOOLEAN_STRINGS:
            return BOOLEAN_STRINGS[v.lower()]
    elif kind is FLOAT and (t is int or t is float):
        return float(v)
    raise _scalar_type_error(node, v)


def parse_struct(node: Node, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    members = node.members
    for key, v in body.items():
        child = members.get(key)
        if child is None or v is None:
            continue  # unknown members and nulls are dropped, as AWS does
        # The common cases inline, without a call: strings, blobs, lists of structures.
        kind = child.kind
        t = type(v)
        if kind is STR and t is str:
            out[key] = v
        elif kind is BLOB and t is str:
            out[key] = _parse_blob(v)
        elif kind is LIST and t is list and child.member_kind is STRUCT:
            member = child.member
            assert member is not None
            out[key] = [
                parse_struct(member, x)
                if type(x) is dict
                else None
                if x is None
                else parse_value(member, x)
                for x in v
            ]
        else:
            out[key] = parse_value(child, v)
    return out
