"""Step 2 of validation: the model's ``required``/``min``/``max``/``pattern``/``enum`` traits.

Violations are a ``ValidationException`` listing at most ten of them, in AWS's wording:

    1 validation error detected: Value 'x!' at 'streamName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+

Each container shape gets one check closure, bound once at start-up (``compiler``), so a
request costs a walk over its own members with precomputed predicates and message texts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from shardflow.api.validation.nodes import (
    BLOB,
    BOOL,
    LIST,
    MAP,
    STR,
    STRUCT,
    Check,
    Errors,
    Node,
)
from shardflow.api.validation.quirks import JAVA_HASH_SUFFIX, JAVA_PACKAGE, MAX_LISTED_ERRORS

Report = Callable[[Any, str, str, Errors], None]

_NOT_NULL = "Member must not be null"


class _Full(Exception):
    """Raised once MAX_LISTED_ERRORS violations are collected: AWS lists no more."""


def violations(check: Check, params: dict[str, Any]) -> str | None:
    """AWS's ValidationException message for ``params``, or None if they satisfy ``check``."""
    errs: Errors = []
    with contextlib.suppress(_Full):
        check(params, "", "", errs)
    if not errs:
        return None
    n = len(errs)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errs)


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def _render(node: Node, v: Any) -> str:
    """A value as AWS prints it inside ``Value '...'``: Java's toString of the parsed value."""
    kind = node.kind
    if kind is BLOB:
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(v)} cap={len(v)}]"
    if kind is LIST:
        member = node.member
        assert member is not None
        return "[" + ", ".join(_render_item(member, x) for x in v) + "]"
    if kind is MAP:
        value = node.value
        assert value is not None
        return "{" + ", ".join(f"{k}={_render_item(value, x)}" for k, x in v.items()) + "}"
    if kind is BOOL:
        return "true" if v else "false"
    return str(v)


def _render_item(node: Node, v: Any) -> str:
    if v is None:
        return "null"
    if node.kind is STRUCT:
        return f"{JAVA_PACKAGE}.{node.name}{JAVA_HASH_SUFFIX}"
    return _render(node, v)


def _add(errs: Errors, node: Node, v: Any, prefix: str, name: str, constraint: str) -> None:
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


def _constraint_texts(node: Node) -> list[str]:
    """Every constraint of a list element or map key/value, in AWS's bracketed order."""
    out = []
    word = "length" if node.kind in (STR, BLOB, LIST, MAP) else "value"
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


def _scalar_ok(node: Node) -> Callable[[Any], Any] | None:
    """A fast predicate (truthy when valid) for a scalar shape's constraints; None if none."""
    lo, hi, regex = node.min, node.max, node.regex
    if lo == 0 and node.kind in (STR, BLOB):
        lo = None  # a length is never negative
    enum = frozenset(node.enum) if node.enum is not None else None
    sized = node.kind in (STR, BLOB)
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


def _compile_scalar_report(node: Node) -> Report:
    """Adds every violation of a scalar value (called only once ``ok`` said it is invalid)."""
    word = "length" if node.kind in (STR, BLOB) else "value"
    lo, hi, regex = node.min, node.max, node.regex
    sized = node.kind in (STR, BLOB)
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


def _size_report(node: Node) -> Callable[[Any, str, Errors], None] | None:
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


def compile_list_check(node: Node) -> Check | None:
    member = node.member
    assert member is not None
    sizes = _size_report(node)
    if member.kind in (STRUCT, LIST, MAP):
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


def compile_map_check(node: Node) -> Check | None:
    key, value = node.key, node.value
    assert key is not None and value is not None
    sizes = _size_report(node)
    key_ok, value_ok = _scalar_ok(key), _scalar_ok(value)
    # Sic: "keys" but "value" (kinesalite test/addTagsToStream.js).
    keys_text = f"Map keys must satisfy constraint: [{', '.join(_constraint_texts(key))}]"
    values_text = f"Map value must satisfy constraint: [{', '.join(_constraint_texts(value))}]"
    element = value.check if value.kind in (STRUCT, LIST, MAP) else None

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


def compile_struct_check(node: Node) -> Check | None:
    plan: list[
        tuple[str, str, bool, Node, Callable[[Any], Any] | None, Report | None, Check | None]
    ]
    plan = []
    for wire in node.order:
        child = node.members[wire]
        required = wire in node.required
        if child.kind in (STRUCT, LIST, MAP):
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
