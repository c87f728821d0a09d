"""Type checks and constraint checks for JSON 1.1 requests, driven by botocore's Kinesis model.

The pipeline runs two steps before any handler sees a request (STYLE.md: handlers never validate):

1. ``RequestSchema.parse``: JSON types against the operation's input shape. A wrong type is a
   ``SerializationException`` (first offender in document order, as a streaming parser finds it);
   blobs become ``bytes``, timestamps ``float`` seconds, unknown members and nulls are dropped.
2. ``RequestSchema.validate``: the model's ``required``/``min``/``max``/``pattern``/``enum``
   traits. Violations are a ``ValidationException`` listing at most ten of them.

Constraints come from the model; the wording comes from what AWS answered, as recorded by the
tests of kinesalite (github.com/mhart/kinesalite, ``test/*.js`` run against the real service):

    1 validation error detected: Value 'x!' at 'streamName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+

Everything is compiled once per shape at start-up; ``parse`` and ``validate`` only walk the
request with precomputed member tables, compiled regexes and bound closures.
"""

from __future__ import annotations

import binascii
import contextlib
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pybase64
from botocore.loaders import Loader

from shardflow import errors

__all__ = ["MAX_LISTED_ERRORS", "RequestSchema"]

MAX_LISTED_ERRORS = 10  # AWS lists ten violations at most (kinesalite test/putRecords.js)

_SERVICE = "kinesis"
_API_VERSION = "2013-12-02"

# Java ranges: Coral reads JSON numbers into these types; kinesalite records that an Integer
# beyond the range comes back as 2147483647 (test/createStream.js, ShardCount 100000000000).
_JAVA_INT = (-(2**31), 2**31 - 1)
_JAVA_LONG = (-(2**63), 2**63 - 1)

# What AWS names a JSON number in a type error (kinesalite test/helpers.js, assertType).
_NUMBER_CLASS = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_START_OF_LIST = "Start of list found where not expected"
_START_OF_MAP = "Start of structure or map found where not expected."
# Strings AWS accepts where a boolean is expected (kinesalite validations/index.js).
_BOOLEAN_STRINGS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

# AWS's order of violations is not the model's member order, and later kinesalite tests compare
# them as a set. Where a test pinned the exact order, keep it (members not listed follow, in
# model order): test/createStream.js, describeStream.js, getRecords.js, listStreams.js,
# increaseStreamRetentionPeriod.js, putRecord.js, putRecords.js.
_OBSERVED_MEMBER_ORDER: dict[str, tuple[str, ...]] = {
    "CreateStreamInput": ("ShardCount", "StreamName"),
    "DescribeStreamInput": ("Limit", "ExclusiveStartShardId", "StreamName"),
    "GetRecordsInput": ("Limit", "ShardIterator"),
    "IncreaseStreamRetentionPeriodInput": ("RetentionPeriodHours", "StreamName"),
    "DecreaseStreamRetentionPeriodInput": ("RetentionPeriodHours", "StreamName"),  # same shape
    "ListStreamsInput": ("Limit", "ExclusiveStartStreamName"),
    "PutRecordInput": (
        "SequenceNumberForOrdering",
        "PartitionKey",
        "ExplicitHashKey",
        "Data",
        "StreamName",
    ),
    "PutRecordsInput": ("Records", "StreamName"),
    "PutRecordsRequestEntry": ("PartitionKey", "ExplicitHashKey", "Data"),
}

# AWS prints enum sets in a hash order, not the model's (kinesalite test/getShardIterator.js).
_OBSERVED_ENUM_ORDER: dict[str, tuple[str, ...]] = {
    "ShardIteratorType": (
        "AFTER_SEQUENCE_NUMBER",
        "LATEST",
        "AT_TIMESTAMP",
        "AT_SEQUENCE_NUMBER",
        "TRIM_HORIZON",
    ),
}

# How AWS prints a structure inside a list value: Java's default toString of the request class
# (kinesalite test/putRecords.js). The hash suffix is AWS's; we cannot reproduce it in general.
_JAVA_PACKAGE = "com.amazonaws.kinesis.v20131202"

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64_ALPHABET)}
_B64_BAD = re.compile(r"[^a-zA-Z0-9+/=]|=[^=]")

# Shape kinds. Small ints are singletons in CPython, so ``kind is _STR`` is a cheap dispatch.
_STR, _INT, _FLOAT, _BOOL, _BLOB, _TS, _LIST, _MAP, _STRUCT = range(9)
_KINDS = {
    "string": _STR,
    "integer": _INT,
    "long": _INT,
    "float": _FLOAT,
    "double": _FLOAT,
    "boolean": _BOOL,
    "blob": _BLOB,
    "timestamp": _TS,
    "list": _LIST,
    "map": _MAP,
    "structure": _STRUCT,
}

Errors = list[str]
# check(value, prefix, name, errors): the value sits at ``prefix + name``; ``name`` is an int
# for a list element (see _join). Paths are joined only when a message needs one.
Check = Callable[[Any, str, Any, Errors], None]
Report = Callable[[Any, str, str, Errors], None]


class _Full(Exception):
    """Raised once MAX_LISTED_ERRORS violations are collected: AWS lists no more."""


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def _serialization_error(message: str) -> errors.KinesisError:
    return errors.SerializationException(message)


class _Node:
    """One compiled shape: its type and traits for ``parse``, its bound check for ``validate``."""

    __slots__ = (
        "check",
        "enum",
        "java_type",
        "key",
        "kind",
        "max",
        "member",
        "member_kind",
        "members",
        "min",
        "name",
        "order",
        "pattern",
        "regex",
        "required",
        "value",
    )

    def __init__(self, name: str, kind: int) -> None:
        self.name = name
        self.kind = kind
        self.java_type = ""
        self.min: int | None = None
        self.max: int | None = None
        self.pattern: str | None = None
        self.regex: re.Pattern[str] | None = None
        self.enum: tuple[str, ...] | None = None
        self.member: _Node | None = None  # list element
        self.member_kind = -1
        self.key: _Node | None = None  # map key
        self.value: _Node | None = None  # map value
        self.members: dict[str, _Node] = {}  # structure, by wire name
        self.required: frozenset[str] = frozenset()
        self.order: tuple[str, ...] = ()
        self.check: Check | None = None


# --- parse: JSON types ---------------------------------------------------------------------


def _scalar_type_error(node: _Node, v: Any) -> errors.KinesisError:
    """The SerializationException AWS gives for ``v`` where ``node`` is expected."""
    if type(v) is list:
        return _serialization_error(_START_OF_LIST)
    if type(v) is dict:
        return _serialization_error(_START_OF_MAP)
    if type(v) is bool:
        source = "class java.lang.Boolean"
    elif type(v) is str:
        source = "class java.lang.String"
    else:
        source = _NUMBER_CLASS
    kind = node.kind
    if kind is _BLOB:
        return _serialization_error(f"{source} can not be converted to a Blob")
    if kind is _TS:
        return _serialization_error(f"{source} can not be converted to milliseconds since epoch")
    if kind is _BOOL and type(v) is str:
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


# Java turns the seconds into a long of milliseconds, saturating (``(long) double``); kept a
# little inside that range so that ``round(seconds * 1000)`` stays a valid SQLite integer.
_TS_LIMIT_S = 9.2e15


def _timestamp_seconds(v: int | float) -> float:
    """A timestamp as float seconds, out-of-range values held at the far past or future."""
    if type(v) is int and not -_TS_LIMIT_S <= v <= _TS_LIMIT_S:
        return _TS_LIMIT_S if v > 0 else -_TS_LIMIT_S
    seconds = float(v)
    if seconds != seconds:  # NaN (CBOR can carry one)
        raise _serialization_error("NaN is not a timestamp")
    return max(-_TS_LIMIT_S, min(_TS_LIMIT_S, seconds))


def _parse_value(node: _Node, v: Any) -> Any:
    """Check one non-null JSON value against ``node`` and return its converted form."""
    kind = node.kind
    t = type(v)
    if kind is _STR:
        if t is str:
            return v
    elif kind is _STRUCT:
        if t is dict:
            return _parse_struct(node, v)
        if t is list:
            raise _serialization_error(_START_OF_LIST)
        raise _serialization_error("Expected null")
    elif kind is _LIST:
        if t is list:
            member = node.member
            assert member is not None
            return [None if x is None else _parse_value(member, x) for x in v]
        if t is dict:
            raise _serialization_error(_START_OF_MAP)
        raise _serialization_error("Expected list or null")
    elif kind is _MAP:
        if t is dict:
            key, value = node.key, node.value
            assert key is not None and value is not None
            return {
                _parse_value(key, k): None if x is None else _parse_value(value, x)
                for k, x in v.items()
            }
        if t is list:
            raise _serialization_error(_START_OF_LIST)
        raise _serialization_error("Expected map or null")
    elif kind is _BLOB:
        if t is str:
            return _parse_blob(v)
        if t is bytes:
            return v  # a CBOR byte string needs no decoding (kinesalite accepts Buffers too)
    elif kind is _INT:
        if t is int or t is float:
            return _to_java_int(v, _JAVA_LONG if node.java_type == "Long" else _JAVA_INT)
    elif kind is _TS:
        # JSON 1.1 timestamps are epoch seconds; AWS refuses strings here (kinesalite helpers).
        if t is int or t is float:
            return _timestamp_seconds(v)
        if t is datetime:
            return v.timestamp()  # CBOR tag 1, as cbor2 decodes it
    elif kind is _BOOL:
        if t is bool:
            return v
        if t is str and v.lower() in _BOOLEAN_STRINGS:
            return _BOOLEAN_STRINGS[v.lower()]
    elif kind is _FLOAT and (t is int or t is float):
        return float(v)
    raise _scalar_type_error(node, v)


def _parse_struct(node: _Node, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    members = node.members
    for key, v in body.items():
        child = members.get(key)
        if child is None or v is None:
            continue  # unknown members and nulls are dropped, as AWS does
        # The common cases inline, without a call: strings, blobs, lists of structures.
        kind = child.kind
        t = type(v)
        if kind is _STR and t is str:
            out[key] = v
        elif kind is _BLOB and t is str:
            out[key] = _parse_blob(v)
        elif kind is _LIST and t is list and child.member_kind is _STRUCT:
            member = child.member
            assert member is not None
            out[key] = [
                _parse_struct(member, x)
                if type(x) is dict
                else None
                if x is None
                else _parse_value(member, x)
                for x in v
            ]
        else:
            out[key] = _parse_value(child, v)
    return out


# --- validate: model constraints ------------------------------------------------------------


def _render(node: _Node, v: Any) -> str:
    """A value as AWS prints it inside ``Value '...'``: Java's toString of the parsed value."""
    kind = node.kind
    if kind is _BLOB:
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(v)} cap={len(v)}]"
    if kind is _LIST:
        member = node.member
        assert member is not None
        return "[" + ", ".join(_render_item(member, x) for x in v) + "]"
    if kind is _MAP:
        value = node.value
        assert value is not None
        return "{" + ", ".join(f"{k}={_render_item(value, x)}" for k, x in v.items()) + "}"
    if kind is _BOOL:
        return "true" if v else "false"
    return str(v)


def _render_item(node: _Node, v: Any) -> str:
    if v is None:
        return "null"
    if node.kind is _STRUCT:
        return f"{_JAVA_PACKAGE}.{node.name}@2"
    return _render(node, v)


def _add(errs: Errors, node: _Node, v: Any, prefix: str, name: str, constraint: str) -> None:
    shown = "null" if v is None else f"'{_render(node, v)}'"
    errs.append(f"Value {shown} at '{prefix}{name}' failed to satisfy constraint: {constraint}")
    if len(errs) >= MAX_LISTED_ERRORS:
        raise _Full


def _join(prefix: str, name: str | int) -> str:
    """The path prefix for the members of a value at ``prefix + name``.

    ``name`` is an int for a list element: 'records.' + 3 -> 'records.3.member.'. Joining
    happens only when a message needs it, so valid requests build no path strings.
    """
    if type(name) is int:
        return f"{prefix}{name}.member."
    return f"{prefix}{name}." if name else prefix


def _constraint_texts(node: _Node) -> list[str]:
    """Every constraint of a list element or map key/value, in AWS's bracketed order."""
    out = []
    word = "length" if node.kind in (_STR, _BLOB, _LIST, _MAP) else "value"
    if node.max is not None:
        out.append(f"Member must have {word} less than or equal to {node.max}")
    if node.min is not None:
        out.append(f"Member must have {word} greater than or equal to {node.min}")
    if node.pattern is not None:
        out.append(f"Member must satisfy regular expression pattern: {node.pattern}")
    if node.enum is not None:
        out.append(f"Member must satisfy enum value set: [{', '.join(node.enum)}]")
    return out


def _bounds_ok(lo: int | None, hi: int | None, sized: bool) -> Callable[[Any], Any] | None:
    """The cheapest predicate for min/max alone: one lambda, no branches on absent bounds."""
    if lo is not None and hi is not None:
        low, high = lo, hi
        return (lambda v: low <= len(v) <= high) if sized else (lambda v: low <= v <= high)
    if hi is not None:
        high = hi
        return (lambda v: len(v) <= high) if sized else (lambda v: v <= high)
    if lo is not None:
        low = lo
        return (lambda v: len(v) >= low) if sized else (lambda v: v >= low)
    return None


def _scalar_ok(node: _Node) -> Callable[[Any], Any] | None:
    """A fast predicate (truthy when valid) for a scalar shape's constraints; None if none."""
    lo, hi, regex = node.min, node.max, node.regex
    if lo == 0 and node.kind in (_STR, _BLOB):
        lo = None  # a length is never negative
    enum = frozenset(node.enum) if node.enum is not None else None
    sized = node.kind in (_STR, _BLOB)
    if regex is None and enum is None:
        return _bounds_ok(lo, hi, sized)
    if enum is not None and regex is None and lo is None and hi is None:
        return enum.__contains__
    if regex is not None and enum is None and lo is None and hi is None:
        return regex.fullmatch

    def ok(v: Any) -> bool:
        if enum is not None and v not in enum:
            return False
        if regex is not None and regex.fullmatch(v) is None:
            return False
        n = len(v) if sized else v
        return not ((lo is not None and n < lo) or (hi is not None and n > hi))

    return ok


def _compile_scalar_report(node: _Node) -> Report:
    """Adds every violation of a scalar value (called only once ``ok`` said it is invalid)."""
    word = "length" if node.kind in (_STR, _BLOB) else "value"
    lo, hi, regex = node.min, node.max, node.regex
    sized = node.kind in (_STR, _BLOB)
    enum = frozenset(node.enum) if node.enum is not None else None
    enum_text = f"Member must satisfy enum value set: [{', '.join(node.enum or ())}]"
    pattern_text = f"Member must satisfy regular expression pattern: {node.pattern}"
    lo_text = f"Member must have {word} greater than or equal to {lo}"
    hi_text = f"Member must have {word} less than or equal to {hi}"

    # Several violations on one member are listed one by one, pattern before length
    # (kinesalite test/createStream.js, StreamName '').
    def report(v: Any, prefix: str, name: str, errs: Errors) -> None:
        if enum is not None and v not in enum:
            _add(errs, node, v, prefix, name, enum_text)
        if regex is not None and regex.fullmatch(v) is None:
            _add(errs, node, v, prefix, name, pattern_text)
        n = len(v) if sized else v
        if lo is not None and n < lo:
            _add(errs, node, v, prefix, name, lo_text)
        if hi is not None and n > hi:
            _add(errs, node, v, prefix, name, hi_text)

    return report


def _size_report(node: _Node) -> Callable[[Any, str, Errors], None] | None:
    """Length checks of a list or map itself, reported at its own path."""
    lo, hi = node.min, node.max
    if not lo:
        lo = None
    if lo is None and hi is None:
        return None
    lo_text = f"Member must have length greater than or equal to {lo}"
    hi_text = f"Member must have length less than or equal to {hi}"

    def report(v: Any, path: str, errs: Errors) -> None:
        n = len(v)
        if lo is not None and n < lo:
            _add(errs, node, v, path, "", lo_text)
        if hi is not None and n > hi:
            _add(errs, node, v, path, "", hi_text)

    return report


def _compile_list_check(node: _Node) -> Check | None:
    member = node.member
    assert member is not None
    sizes = _size_report(node)
    if member.kind in (_STRUCT, _LIST, _MAP):
        element = member.check

        # Elements that are containers are checked one by one, at ``name.<1-based>.member``
        # (kinesalite test/putRecords.js: 'records.1.member.partitionKey').
        def check(v: Any, prefix: str, name: Any, errs: Errors) -> None:
            if sizes is not None:
                sizes(v, _join(prefix, name)[:-1], errs)
            base = _join(prefix, name)
            for i, x in enumerate(v, 1):
                if x is None:
                    _add(errs, member, None, base, f"{i}.member", "Member must not be null")
                elif element is not None:
                    element(x, base, i, errs)

        return check

    # Scalar elements are judged together, against the whole list (kinesalite
    # test/removeTagsFromStream.js: "Member must satisfy constraint: [...]" at 'tagKeys').
    ok = _scalar_ok(member)
    together = f"Member must satisfy constraint: [{', '.join(_constraint_texts(member))}]"

    def check_scalars(v: Any, prefix: str, name: Any, errs: Errors) -> None:
        if None in v:  # a null element never reaches a handler
            base = _join(prefix, name)
            for i, x in enumerate(v, 1):
                if x is None:
                    _add(errs, member, None, base, f"{i}.member", _NOT_NULL)
        if sizes is not None:
            sizes(v, _join(prefix, name)[:-1], errs)
        if ok is not None and not all(x is None or ok(x) for x in v):
            _add(errs, node, v, _join(prefix, name)[:-1], "", together)

    return check_scalars


def _compile_map_check(node: _Node) -> Check | None:
    key, value = node.key, node.value
    assert key is not None and value is not None
    sizes = _size_report(node)
    key_ok, value_ok = _scalar_ok(key), _scalar_ok(value)
    # Sic: "keys" but "value" (kinesalite test/addTagsToStream.js).
    keys_text = f"Map keys must satisfy constraint: [{', '.join(_constraint_texts(key))}]"
    values_text = f"Map value must satisfy constraint: [{', '.join(_constraint_texts(value))}]"
    element = value.check if value.kind in (_STRUCT, _LIST, _MAP) else None

    def check(v: Any, prefix: str, name: Any, errs: Errors) -> None:
        path = _join(prefix, name)[:-1]
        if None in v.values():  # a null map value never reaches a handler
            for k, x in v.items():
                if x is None:
                    _add(errs, value, None, f"{path}.", str(k), _NOT_NULL)
        if sizes is not None:
            sizes(v, path, errs)
        if key_ok is not None and not all(key_ok(k) for k in v):
            _add(errs, node, v, path, "", keys_text)
        if value_ok is not None and not all(x is None or value_ok(x) for x in v.values()):
            _add(errs, node, v, path, "", values_text)
        if element is not None:
            for k, x in v.items():
                if x is not None:
                    element(x, f"{path}.", f"{k}.member", errs)

    return check


_NOT_NULL = "Member must not be null"


def _compile_struct_check(node: _Node) -> Check | None:
    plan: list[
        tuple[str, str, bool, _Node, Callable[[Any], Any] | None, Report | None, Check | None]
    ]
    plan = []
    for wire in node.order:
        child = node.members[wire]
        required = wire in node.required
        if child.kind in (_STRUCT, _LIST, _MAP):
            ok, report, check = None, None, child.check
        else:
            ok = _scalar_ok(child)
            report = _compile_scalar_report(child) if ok is not None else None
            check = None
        if required or ok is not None or check is not None:
            plan.append((wire, _lower_first(wire), required, child, ok, report, check))
    if not plan:
        return None
    members = tuple(plan)

    def check_struct(v: Any, prefix: str, name: Any, errs: Errors) -> None:
        inner = None  # joined on first need only
        for wire, label, required, child, ok, report, check in members:
            x = v.get(wire)
            if x is None:
                if required:
                    inner = inner or _join(prefix, name)
                    _add(errs, child, None, inner, label, _NOT_NULL)
            elif ok is not None:
                if not ok(x):
                    assert report is not None
                    inner = inner or _join(prefix, name)
                    report(x, inner, label, errs)
            elif check is not None:
                inner = inner or _join(prefix, name)
                check(x, inner, label, errs)

    return check_struct


# --- compiling the model --------------------------------------------------------------------


class _Compiler:
    """Turns botocore shape dicts into linked ``_Node`` objects, once per shape."""

    def __init__(self, shapes: dict[str, Any]) -> None:
        self.shapes = shapes
        self.nodes: dict[str, _Node] = {}

    def node(self, name: str) -> _Node:
        done = self.nodes.get(name)
        if done is not None:
            return done
        spec = self.shapes[name]
        node = _Node(name, _KINDS[spec["type"]])
        self.nodes[name] = node  # before children: shapes may recurse
        node.java_type = {"integer": "Integer", "long": "Long", "float": "Float"}.get(
            spec["type"], spec["type"].capitalize()
        )
        node.min = spec.get("min")
        node.max = spec.get("max")
        if "pattern" in spec:
            node.pattern = spec["pattern"]
            node.regex = re.compile(spec["pattern"], re.ASCII)  # Java classes are ASCII
        if "enum" in spec:
            node.enum = _OBSERVED_ENUM_ORDER.get(name, tuple(spec["enum"]))
        if node.kind is _LIST:
            node.member = self.node(spec["member"]["shape"])
            node.member_kind = node.member.kind
        elif node.kind is _MAP:
            node.key = self.node(spec["key"]["shape"])
            node.value = self.node(spec["value"]["shape"])
        elif node.kind is _STRUCT:
            node.members = {m: self.node(s["shape"]) for m, s in spec["members"].items()}
            node.required = frozenset(spec.get("required", ()))
            node.order = _member_order(name, node.members)
        return node

    def finish(self) -> None:
        """Bind check closures leaf-first, so a container sees its children's checks."""
        state: dict[str, str] = {}

        def visit(node: _Node) -> None:
            if state.get(node.name) == "done":
                return
            if state.get(node.name) == "open":
                # A struct would capture its child's check before it exists. No Kinesis input
                # shape recurses; fail loudly if a future model does.
                raise RuntimeError(f"recursive input shape {node.name} is not supported")
            state[node.name] = "open"
            children: Iterable[_Node | None] = node.members.values()
            if node.kind is not _STRUCT:
                children = (node.member, node.key, node.value)
            for child in children:
                if child is not None:
                    visit(child)
            if node.kind is _STRUCT:
                node.check = _compile_struct_check(node)
            elif node.kind is _LIST:
                node.check = _compile_list_check(node)
            elif node.kind is _MAP:
                node.check = _compile_map_check(node)
            state[node.name] = "done"

        for node in list(self.nodes.values()):
            visit(node)


def _member_order(shape: str, members: dict[str, _Node]) -> tuple[str, ...]:
    first = [m for m in _OBSERVED_MEMBER_ORDER.get(shape, ()) if m in members]
    return tuple(first + [m for m in members if m not in first])


class RequestSchema:
    """Built once at start-up from botocore's Kinesis service model (``service-2.json.gz``).

    ``parse`` then ``validate`` on every request; both use tables compiled here, so a request
    costs a walk over its own members and no model look-ups.
    """

    def __init__(self) -> None:
        model = Loader().load_service_model(_SERVICE, "service-2", api_version=_API_VERSION)
        compiler = _Compiler(model["shapes"])
        self._inputs: dict[str, _Node] = {}
        for op, spec in model["operations"].items():
            shape = spec.get("input", {}).get("shape")
            self._inputs[op] = compiler.node(shape) if shape else _Node(f"{op}Input", _STRUCT)
        compiler.finish()
        self._operations = frozenset(self._inputs)

    def operations(self) -> frozenset[str]:
        """All operation names of the model."""
        return self._operations

    def _input(self, operation: str) -> _Node:
        node = self._inputs.get(operation)
        if node is None:
            raise errors.UnknownOperationException()
        return node

    def parse(self, operation: str, body: Any) -> dict[str, Any]:
        """Type-check a decoded JSON body; return a copy with blobs as bytes, timestamps as floats.

        Unknown members and nulls are dropped. A wrong JSON type raises SerializationException
        with AWS's message (and AWS's ``Message`` key).
        """
        node = self._input(operation)
        if body is None:
            return {}
        if type(body) is not dict:
            _parse_value(node, body)  # raises AWS's error for a non-object
        return _parse_struct(node, body)

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Check the model's constraints on parsed params; raise ValidationException if violated."""
        check = self._input(operation).check
        if check is None:
            return
        errs: Errors = []
        with contextlib.suppress(_Full):
            check(params, "", "", errs)
        if errs:
            n = len(errs)
            raise errors.ValidationException(
                f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errs)
            )
