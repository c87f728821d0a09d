"""CBOR requests: decoding a body, and its timestamps (tag 1, epoch milliseconds) made float
seconds where the operation's plan has a timestamp, before ``RequestSchema.parse`` sees them."""

from __future__ import annotations

import math
from typing import Any

import cbor2

from shardflow import errors
from shardflow.wire.cbor_plans import TS, ListPlan, MapPlan, Plan, StructPlan

_TAG_EPOCH = 1  # RFC 8949 section 3.4.2; AWS puts milliseconds in it


class Millis:
    """A tag-1 value from a request: epoch milliseconds, as the Java SDK writes them.

    Kept apart from plain numbers until the model says where timestamps are; a tag in any
    other place is left for ``RequestSchema.parse`` to reject as a wrong type.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Millis({self.value!r})"


def _tag_epoch(value: Any, immutable: bool) -> Millis:
    return Millis(value)


_SEMANTIC_DECODERS = {_TAG_EPOCH: _tag_epoch}


def decode(body: bytes) -> Any:
    """Parse a request body; raises ValueError if it is not one CBOR data item."""
    try:
        return cbor2.loads(body, semantic_decoders=_SEMANTIC_DECODERS)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"not CBOR: {exc}") from None


_MILLIS_LIMIT = 2**63  # beyond a Java long: RequestSchema.parse holds it at its limit


def _seconds(value: Any) -> Any:
    """A timestamp member's value as JSON 1.1 has it (float seconds), if it is a number."""
    if type(value) is Millis:
        value = value.value
    if type(value) is int:
        # a bignum (tag 2/3) is an int too: out of range, held at the far past or future
        return value / 1000 if -_MILLIS_LIMIT <= value <= _MILLIS_LIMIT else value // 1000
    if type(value) is float:
        if not math.isfinite(value):
            raise errors.SerializationException(None)
        return value / 1000
    return value  # a wrong type: RequestSchema.parse reports it


def normalize(value: Any, plan: Plan) -> Any:
    """Turn the timestamps ``plan`` points at into float seconds (in place where it can)."""
    if plan is TS:
        return _seconds(value)
    t = type(value)
    if t is dict:
        if type(plan) is StructPlan:
            for name, child in plan.members.items():
                if value.get(name) is not None:
                    value[name] = normalize(value[name], child)
        elif type(plan) is MapPlan:
            for key, item in value.items():
                value[key] = normalize(item, plan.value)
    elif t is list and type(plan) is ListPlan:
        return [normalize(item, plan.element) for item in value]
    return value
