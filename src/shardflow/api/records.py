"""Record fields shared by PutRecord and PutRecords."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.engine.engine import PutEntry


def entry_from(fields: dict[str, Any], path: str, *, keyless: bool = False) -> PutEntry:
    """A PutEntry from validated request fields.

    The model no longer marks PartitionKey required: streams with the AUTO distribution strategy
    (``keyless``) take records without one (stored as "", which no real key can be), but the
    default USER_PARTITION_KEY streams still need one.
    """
    key = fields.get("PartitionKey")
    if key is None and keyless:
        key = ""
    elif key is None:
        raise errors.ValidationException(
            f"1 validation error detected: Value null at '{path}partitionKey' failed to satisfy"
            " constraint: Member must not be null"
        )
    return PutEntry(fields["Data"], key, fields.get("ExplicitHashKey"))
