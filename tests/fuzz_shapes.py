"""Hypothesis strategies for Kinesis requests, derived from botocore's Kinesis model.

Every operation's input shape becomes a strategy that draws mostly well-typed values (names of
resources that exist, so requests reach the engine) mixed with hostile ones: nulls anywhere, numbers
out of range (1e308, 2**70), wrong types, and for CBOR bignums, foreign tags, NaN and infinities.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import cbor2
from botocore.loaders import Loader
from hypothesis import strategies as st

MODEL = Loader().load_service_model("kinesis", "service-2", api_version="2013-12-02")
SHAPES: dict[str, Any] = MODEL["shapes"]
ALL_OPERATIONS = sorted(op for op, spec in MODEL["operations"].items() if "input" in spec)

HOSTILE_NUMBERS = [1e308, -1e308, 2**63, -(2**63) - 1, 2**70, -(2**70), 2**31, -1, 0, 1.5, 1e-300]
HOSTILE_COMMON = st.sampled_from([None, True, False, "", [], {}, "x" * 300, *HOSTILE_NUMBERS])


def _hostile_cbor_values() -> list[Any]:
    return [
        2**200,  # a bignum: tag 2
        -(2**200),  # tag 3
        float("inf"),
        float("-inf"),
        float("nan"),
        cbor2.CBORTag(1, 2**100),  # an epoch timestamp that no clock reaches
        cbor2.CBORTag(1, -(2**100)),
        cbor2.CBORTag(1, float("inf")),
        cbor2.CBORTag(1, "2026-01-01"),
        cbor2.CBORTag(1, [1]),
        cbor2.CBORTag(4, [-2, 27315]),  # a decimal fraction
        cbor2.CBORTag(999, 1),  # an unassigned tag
        cbor2.CBORTag(0, "not-a-date"),
        cbor2.undefined,
        b"\x00\xff",
    ]


# Built afresh per draw: CBORTag around a list is unhashable, which sampled_from needs.
HOSTILE_CBOR = st.integers(0, len(_hostile_cbor_values()) - 1).map(
    lambda i: _hostile_cbor_values()[i]
)


class Pools:
    """Names of things that exist on the server under test, so requests get past lookups."""

    def __init__(
        self, stream: str, stream_arn: str, consumer_arn: str, iterator: str, sequence: str
    ) -> None:
        self.strings = [
            stream,
            stream_arn,
            consumer_arn,
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-999999999999",
            "49000000000000000000000000000000000000000000000000000000",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "eyJhZnRlciI6ICJ4IiwgInQiOiAxfQ==",  # a token that decodes to JSON: forged
            "fuzz-consumer",
            "tag-key",
            "arn:aws:kms:us-east-1:000000000000:key/12345678-1234-1234-1234-123456789012",
            "alias/aws/kinesis",
            '{"Version": "2012-10-17", "Statement": []}',
        ]
        shards = ["shardId-000000000000", "shardId-000000000001"]
        self.by_member = {
            "StreamName": [stream],
            "StreamARN": [stream_arn],
            "ConsumerARN": [consumer_arn],
            "ResourceARN": [stream_arn, consumer_arn],
            "ShardId": shards,
            "ShardToMerge": shards,
            "AdjacentShardToMerge": shards,
            "ShardToSplit": shards,
            "ExclusiveStartShardId": shards,
            "ConsumerName": ["fuzz-consumer"],
            "ShardIterator": [iterator],
            "StartingSequenceNumber": [sequence],
            "SequenceNumber": [sequence],
            "SequenceNumberForOrdering": [sequence],
        }


def _string(shape: dict[str, Any], member: str, pools: Pools) -> st.SearchStrategy[Any]:
    """Enums and the names of real resources most of the time, so requests reach the engine."""
    if "enum" in shape:
        return st.one_of(st.sampled_from(shape["enum"]), st.text(max_size=12))
    known = pools.by_member.get(member)
    options: list[st.SearchStrategy[Any]] = [st.sampled_from(pools.strings), st.text(max_size=40)]
    if "pattern" in shape:
        top = shape.get("max", 64)
        matching = st.from_regex(shape["pattern"], fullmatch=True).map(lambda v: v[:top])
        options = [matching] * 3 + options
    if known:
        options = [st.sampled_from(known)] * 6 + options
    return st.one_of(options)


def _integer(shape: dict[str, Any]) -> st.SearchStrategy[Any]:
    lo, hi = shape.get("min", -(2**31)), shape.get("max", 2**31 - 1)
    return st.one_of(st.integers(lo, hi), st.sampled_from([lo - 1, hi + 1, *HOSTILE_NUMBERS]))


def _timestamp(cbor: bool) -> st.SearchStrategy[Any]:
    seconds = st.one_of(
        st.sampled_from([1e308, -1e308, 0, 1.7e9, 2**63, -(2**63), 1e18, -1e18]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**70), 2**70),
    )
    if not cbor:
        return seconds
    millis = st.one_of(st.integers(-(2**80), 2**80), st.sampled_from([2**64, -(2**64)]))
    return st.one_of(seconds, millis.map(lambda v: cbor2.CBORTag(1, v)))


def _blob(cbor: bool) -> st.SearchStrategy[Any]:
    raw = st.binary(max_size=64)
    encoded = raw.map(lambda b: base64.b64encode(b).decode("ascii"))
    return st.one_of(raw, encoded) if cbor else st.one_of(encoded, st.text(max_size=10))


def value(
    name: str, pools: Pools, cbor: bool, depth: int = 0, member: str = ""
) -> st.SearchStrategy[Any]:
    """A strategy for one value of shape ``name``: usually well typed, sometimes hostile."""
    shape = SHAPES[name]
    kind = shape["type"]
    typed: st.SearchStrategy[Any]
    if kind == "string":
        typed = _string(shape, member, pools)
    elif kind in ("integer", "long"):
        typed = _integer(shape)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "timestamp":
        typed = _timestamp(cbor)
    elif kind == "blob":
        typed = _blob(cbor)
    elif kind == "double" or kind == "float":
        typed = st.floats()
    elif depth > 4:
        typed = st.none()
    elif kind == "list":
        typed = st.lists(value(shape["member"]["shape"], pools, cbor, depth + 1), max_size=4)
    elif kind == "map":
        typed = st.dictionaries(
            st.one_of(st.sampled_from(pools.strings), st.text(max_size=8)),
            value(shape["value"]["shape"], pools, cbor, depth + 1),
            max_size=4,
        )
    elif kind == "structure":
        typed = structure(name, pools, cbor, depth + 1)
    else:
        typed = st.none()
    return typed


def structure(name: str, pools: Pools, cbor: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """A map with some of the structure's members (required ones more often than not)."""
    members = SHAPES[name].get("members", {})
    required = set(SHAPES[name].get("required", []))
    entries = {
        member: value(ref["shape"], pools, cbor, depth, member) for member, ref in members.items()
    }

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for member, strategy in entries.items():
            keep = draw(st.integers(0, 9)) < (9 if member in required else 5)
            if keep:
                out[member] = draw(strategy)
        return out

    return build()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a request where a value sits (map keys and list indices)."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def request(operation: str, pools: Pools, cbor: bool) -> st.SearchStrategy[Any]:
    """A well-typed request (out-of-range values included), half the time with one value
    anywhere in it replaced by a hostile one: a null, a wrong type, a bignum, a foreign tag.
    One at a time, so the rest of the request still reaches the engine."""
    clean = structure(MODEL["operations"][operation]["input"]["shape"], pools, cbor)
    hostile = st.one_of(HOSTILE_COMMON, HOSTILE_CBOR) if cbor else HOSTILE_COMMON

    @st.composite
    def mutated(draw: st.DrawFn) -> Any:
        body = draw(clean)
        paths = _paths(body)
        if not paths or draw(st.booleans()):
            return body
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = draw(hostile)
        return body

    return mutated()


def encode_json(body: Any) -> bytes:
    """JSON as a hostile client writes it: big integers verbatim, Infinity and NaN allowed."""

    def default(v: Any) -> Any:
        if isinstance(v, bytes):
            return base64.b64encode(v).decode("ascii")
        raise TypeError(type(v))

    return json.dumps(body, default=default, allow_nan=True).encode()


def encode_cbor(body: Any) -> bytes:
    return cbor2.dumps(body)
