"""``RequestSchema``: the model-driven steps of validation, compiled once at start-up."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.validation.compiler import compile_inputs
from shardflow.api.validation.constraints import violations
from shardflow.api.validation.nodes import Node
from shardflow.api.validation.parsing import parse_struct, parse_value


class RequestSchema:
    """Built once at start-up from botocore's Kinesis service model (``service-2.json.gz``).

    ``parse`` then ``validate`` on every request; both use tables compiled here, so a request
    costs a walk over its own members and no model look-ups.
    """

    def __init__(self) -> None:
        self._inputs = compile_inputs()
        self._operations = frozenset(self._inputs)

    def operations(self) -> frozenset[str]:
        """All operation names of the model."""
        return self._operations

    def _input(self, operation: str) -> Node:
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
            parse_value(node, body)  # raises AWS's error for a non-object
        return parse_struct(node, body)

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Check the model's constraints on parsed params; raise ValidationException if violated."""
        check = self._input(operation).check
        if check is None:
            return
        message = violations(check, params)
        if message is not None:
            raise errors.ValidationException(message)
