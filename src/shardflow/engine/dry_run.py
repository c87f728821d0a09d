"""DryRun: a data-plane call's checks without its work (PutRecord, PutRecords, GetRecords,
GetShardIterator and SubscribeToShard).

AWS's developer guide ("Test your permissions and request inputs with dry run"): a request with
``DryRun`` set makes the operation's checks (permissions, parameters, that the resources exist)
without reading or writing anything. If a check fails, it answers the error the real call would;
if they all pass, DryRunOperationException (HTTP 400). Dry runs have a limit of their own, 1 per
second per stream shared by the five operations and separate from the shards' throughput limits
(ThrottlingException over it).

Each operation makes its checks, then calls ``conclude``: only a dry run that passed them counts
towards the rate, since one that fails a check gets that check's error (AWS does not document
the order of the two).
"""

from __future__ import annotations

from typing import Any, NoReturn

from shardflow import errors
from shardflow.engine.limits import Limiter

RATE = "DryRun"  # its entry in limits.CONTROL_RATES: 1 per second per stream
# AWS publishes no message for a dry run that would have succeeded: this is the model's
# documentation of DryRunOperationException.
MESSAGE = "The request was rejected because the DryRun parameter was specified."
THROTTLED_MESSAGE = "Rate exceeded"  # AWS's wording is not published


def requested(params: dict[str, Any]) -> bool:
    return params.get("DryRun") is True


def conclude(limits: Limiter, stream: str) -> NoReturn:
    """The answer to a dry run whose checks passed: DryRunOperationException, or
    ThrottlingException over the stream's dry-run rate (``--no-limits`` turns it off)."""
    if not limits.admit_control(RATE, stream):
        raise errors.ThrottlingException(THROTTLED_MESSAGE)
    raise errors.DryRunOperationException(MESSAGE)
