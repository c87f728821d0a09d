"""The compiled form of one model shape, shared by parsing and the constraint checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Shape kinds. Small ints are singletons in CPython, so ``kind is STR`` is a cheap dispatch.
STR, INT, FLOAT, BOOL, BLOB, TS, LIST, MAP, STRUCT = range(9)
KINDS = {
    "string": STR,
    "integer": INT,
    "long": INT,
    "float": FLOAT,
    "double": FLOAT,
    "boolean": BOOL,
    "blob": BLOB,
    "timestamp": TS,
    "list": LIST,
    "map": MAP,
    "structure": STRUCT,
}

Errors = list[str]
# check(value, prefix, name, errors): the value sits at ``prefix + name``; ``name`` is an int
# for a list element (see _join in constraints). Paths are joined only when a message needs one.
Check = Callable[[Any, str, Any, Errors], None]


class Node:
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
        self.member: Node | None = None  # list element
        self.member_kind = -1
        self.key: Node | None = None  # map key
        self.value: Node | None = None  # map value
        self.members: dict[str, Node] = {}  # structure, by wire name
        self.required: frozenset[str] = frozenset()
        self.order: tuple[str, ...] = ()
        self.check: Check | None = None
