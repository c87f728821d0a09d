"""CBOR plans: where a shape's timestamps are, compiled once from botocore's Kinesis model.

A plan holds only the members on the way to a timestamp, so decoding a request and encoding a
response walk their own values with no model look-ups (``cbor_codec``, ``cbor_requests``).
"""

from __future__ import annotations

from typing import Any


class Timestamp:
    """The plan of a timestamp member (a singleton: ``plan is TS``)."""

    __slots__ = ()


TS = Timestamp()


class StructPlan:
    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members: dict[str, Plan] = {}  # only members that lead to a timestamp


class ListPlan:
    __slots__ = ("element",)

    def __init__(self, element: Plan) -> None:
        self.element = element


class MapPlan:
    __slots__ = ("value",)

    def __init__(self, value: Plan) -> None:
        self.value = value


Plan = Timestamp | StructPlan | ListPlan | MapPlan | None


class Planner:
    """Compiles botocore shapes into plans, once per shape."""

    def __init__(self, shapes: dict[str, Any]) -> None:
        self.shapes = shapes
        self.done: dict[str, Plan] = {}

    def plan(self, name: str) -> Plan:
        if name in self.done:
            return self.done[name]
        spec = self.shapes[name]
        kind = spec["type"]
        if kind == "timestamp":
            result: Plan = TS
        elif kind == "structure":
            node = StructPlan()
            self.done[name] = node  # before the members: shapes may recurse
            for member, ref in spec["members"].items():
                child = self.plan(ref["shape"])
                if child is not None:
                    node.members[member] = child
            result = node if node.members else None
        elif kind == "list":
            element = self.plan(spec["member"]["shape"])
            result = ListPlan(element) if element is not None else None
        elif kind == "map":
            value = self.plan(spec["value"]["shape"])
            result = MapPlan(value) if value is not None else None
        else:
            result = None
        self.done[name] = result
        return result
