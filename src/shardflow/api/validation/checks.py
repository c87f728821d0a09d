"""Each operation's cross-field rules, in one place (kinesalite's ``custom`` validation hook).

The model checks one member at a time; the rules here relate members ("NextToken and StreamName
cannot be provided together") and need nothing from the engine. The pipeline runs an
operation's check after the model constraints, right before its handler (after the fault plan
and the control-plane rate limits, where these rules have always been checked), so a handler
receives only requests that pass them.

A rule that AWS applies only after looking the stream up (a missing stream wins over it) stays
with that lookup, in the engine: moving it here would change which error a request gets when
several apply. docs/decisions.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shardflow import errors
from shardflow.engine.metadata import AUTO_NEEDS_ON_DEMAND, WARM_NEEDS_ON_DEMAND
from shardflow.engine.tags import check_tags
from shardflow.model.enums import RecordDistribution, StreamMode

# check(params, account): ``account`` is the caller's account id, which some messages name.
OperationCheck = Callable[[dict[str, Any], str], None]

CHECKS: dict[str, OperationCheck] = {}


def run_checks(operation: str, params: dict[str, Any], account: str) -> None:
    """Raise the error of the first cross-field rule of ``operation`` that ``params`` break."""
    check = CHECKS.get(operation)
    if check is not None:
        check(params, account)


def _checks(*operations: str) -> Callable[[OperationCheck], OperationCheck]:
    """Register a function as the cross-field check of ``operations``."""

    def register(check: OperationCheck) -> OperationCheck:
        for operation in operations:
            if operation in CHECKS:
                raise RuntimeError(f"{operation} has a cross-field check already")
            CHECKS[operation] = check
        return check

    return register


@_checks("CreateStream")
def create_stream(params: dict[str, Any], account: str) -> None:
    """Tags first, then the capacity fields only ON_DEMAND streams take (AWS's order).

    The rules that need the account's state (the billing commitment, the warm-throughput
    quota) and the ShardCount rules, which AWS applies after those, stay in the engine.
    """
    name = params["StreamName"]
    tags = params.get("Tags")
    if tags:
        check_tags(tags, {}, f"stream {name}", account)
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode", StreamMode.PROVISIONED)
    if (
        params.get("RecordDistributionStrategy") == RecordDistribution.AUTO
        and mode != StreamMode.ON_DEMAND
    ):
        raise errors.InvalidArgumentException(
            f"{AUTO_NEEDS_ON_DEMAND} Stream {name} is using {mode} mode."
        )
    if params.get("WarmThroughputMiBps") is not None and mode != StreamMode.ON_DEMAND:
        raise errors.InvalidArgumentException(WARM_NEEDS_ON_DEMAND)


@_checks("DescribeStreamConsumer", "DeregisterStreamConsumer")
def consumer_named(params: dict[str, Any], account: str) -> None:
    """A consumer is named by its ARN, or by its stream's ARN and its name."""
    if params.get("ConsumerARN") is None and (
        params.get("StreamARN") is None or params.get("ConsumerName") is None
    ):
        raise errors.InvalidArgumentException(
            "Either ConsumerARN or both ConsumerName and StreamARN must be provided."
        )


@_checks("ListShards")
def list_shards(params: dict[str, Any], account: str) -> None:
    """A NextToken carries the stream and the position: naming either again is refused."""
    if params.get("NextToken") is None:
        return
    if params.get("StreamName") is not None or params.get("StreamARN") is not None:
        raise errors.InvalidArgumentException(
            "NextToken and StreamName cannot be provided together."
        )
    if params.get("ExclusiveStartShardId") is not None:
        raise errors.InvalidArgumentException(
            "NextToken and ExclusiveStartShardId cannot be provided together."
        )
