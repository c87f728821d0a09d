"""Compiling botocore's Kinesis service model into linked ``Node`` tables, once at start-up.

The model (``botocore/data/kinesis/2013-12-02/service-2.json``) gives every input shape's
types and constraints; AWS's ordering of members and enum values comes from ``quirks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from botocore.loaders import Loader

from shardflow.api.validation.constraints import (
    compile_list_check,
    compile_map_check,
    compile_struct_check,
)
from shardflow.api.validation.nodes import KINDS, LIST, MAP, STRUCT, Node
from shardflow.api.validation.quirks import (
    JAVA_TYPE_NAMES,
    OBSERVED_ENUM_ORDER,
    OBSERVED_MEMBER_ORDER,
)

_SERVICE = "kinesis"
_API_VERSION = "2013-12-02"


def compile_inputs() -> dict[str, Node]:
    """Every operation of the model -> its compiled input shape (an empty one if it has none)."""
    model = Loader().load_service_model(_SERVICE, "service-2", api_version=_API_VERSION)
    compiler = _Compiler(model["shapes"])
    inputs: dict[str, Node] = {}
    for op, spec in model["operations"].items():
        shape = spec.get("input", {}).get("shape")
        inputs[op] = compiler.node(shape) if shape else Node(f"{op}Input", STRUCT)
    compiler.finish()
    return inputs


class _Compiler:
    """Turns botocore shape dicts into linked ``Node`` objects, once per shape."""

    def __init__(self, shapes: dict[str, Any]) -> None:
        self.shapes = shapes
        self.nodes: dict[str, Node] = {}

    def node(self, name: str) -> Node:
        done = self.nodes.get(name)
        if done is not None:
            return done
        spec = self.shapes[name]
        node = Node(name, KINDS[spec["type"]])
        self.nodes[name] = node  # before children: shapes may recurse
        node.java_type = JAVA_TYPE_NAMES.get(spec["type"], spec["type"].capitalize())
        node.min = spec.get("min")
        node.max = spec.get("max")
        if "pattern" in spec:
            node.pattern = spec["pattern"]
            node.regex = re.compile(spec["pattern"], re.ASCII)  # Java classes are ASCII
        if "enum" in spec:
            node.enum = OBSERVED_ENUM_ORDER.get(name, tuple(spec["enum"]))
        if node.kind is LIST:
            node.member = self.node(spec["member"]["shape"])
            node.member_kind = node.member.kind
        elif node.kind is MAP:
            node.key = self.node(spec["key"]["shape"])
            node.value = self.node(spec["value"]["shape"])
        elif node.kind is STRUCT:
            node.members = {m: self.node(s["shape"]) for m, s in spec["members"].items()}
            node.required = frozenset(spec.get("required", ()))
            node.order = _member_order(name, node.members)
        return node

    def finish(self) -> None:
        """Bind check closures leaf-first, so a container sees its children's checks."""
        state: dict[str, str] = {}

        def visit(node: Node) -> None:
            if state.get(node.name) == "done":
                return
            if state.get(node.name) == "open":
                # A struct would capture its child's check before it exists. No Kinesis input
                # shape recurses; fail loudly if a future model does.
                raise RuntimeError(f"recursive input shape {node.name} is not supported")
            state[node.name] = "open"
            children: Iterable[Node | None] = node.members.values()
            if node.kind is not STRUCT:
                children = (node.member, node.key, node.value)
            for child in children:
                if child is not None:
                    visit(child)
            if node.kind is STRUCT:
                node.check = compile_struct_check(node)
            elif node.kind is LIST:
                node.check = compile_list_check(node)
            elif node.kind is MAP:
                node.check = compile_map_check(node)
            state[node.name] = "done"

        for node in list(self.nodes.values()):
            visit(node)


def _member_order(shape: str, members: dict[str, Node]) -> tuple[str, ...]:
    first = [m for m in OBSERVED_MEMBER_ORDER.get(shape, ()) if m in members]
    return tuple(first + [m for m in members if m not in first])
