"""``--lease-table NAME`` of the consuming commands: share shards through a DynamoDB table.

Without it a command reads alone and keeps nothing (an in-memory store). With it, processes
naming the same table share the stream's shards and resume from its checkpoints, as KCL workers
of one application do. The table's endpoint, region and credentials are the standard AWS
settings (``AWS_ENDPOINT_URL_DYNAMODB`` for a local DynamoDB).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def lease_table_option(fn: F) -> F:
    return click.option(
        "--lease-table",
        default=None,
        metavar="NAME",
        help="Share the shards with other processes through this DynamoDB lease table (the"
        " KCL's layout, created when missing) and resume from its checkpoints. Endpoint:"
        " AWS_ENDPOINT_URL_DYNAMODB, else AWS.",
    )(fn)


def checkpoint_store(lease_table: str | None, region: str | None, start: str | datetime) -> Any:
    """The store a consuming command uses: in memory, or the named DynamoDB lease table."""
    from shardflow.consumer import DynamoDBCheckpointStore, MemoryCheckpointStore

    if lease_table is None:
        return MemoryCheckpointStore()
    initial = (
        "AT_TIMESTAMP"
        if isinstance(start, datetime)
        else {"trim-horizon": "TRIM_HORIZON", "latest": "LATEST"}[start]
    )
    return DynamoDBCheckpointStore(lease_table, region=region, initial_position=initial)
