"""What a finished call reports to the engine's subscribers (metrics), and the stream a request
names, read from its parameters without a lookup (for metrics and per-stream rates)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.events import CallDone, Throttled
from shardflow.model import iterators
from shardflow.model.shard_ids import shard_id
from shardflow.server.response import Response


def report(
    engine: Engine,
    operation: str,
    params: dict[str, Any],
    response: Response,
    elapsed: float,
    request_bytes: int,
) -> None:
    """Emit the call's outcome (and a whole-call throttle) to the engine's subscribers."""
    error_type = error_type_of(response)
    stream = stream_named(params)
    shard: str | None = None
    if stream is None and isinstance(params.get("ShardIterator"), str):
        # GetRecords names its stream and shard only inside the iterator (failed calls)
        stream, shard = iterator_names(engine, params["ShardIterator"])
    bus = engine.events
    dry_run = params.get("DryRun") is True
    bus.emit(
        CallDone(operation, stream, error_type is None, error_type, elapsed, request_bytes, dry_run)
    )
    if error_type == "ProvisionedThroughputExceededException" and stream is not None:
        direction = "read" if operation in ("GetRecords", "GetShardIterator") else "write"
        bus.emit(Throttled(stream, shard, direction, 1))


def error_type_of(response: Response) -> str | None:
    if response.status == 200:
        return None
    for name, value in response.headers:
        if name == "x-amzn-errortype":
            return value.split(":", 1)[0]
    return "Unknown"


def stream_named(params: dict[str, Any]) -> str | None:
    """The stream a request names, for metrics and per-stream rates: by StreamName, or in the
    StreamARN, ConsumerARN or ResourceARN it gives (read from the text, never looked up)."""
    name = params.get("StreamName")
    if name is not None:
        return name if isinstance(name, str) else None
    arn = params.get("StreamARN")
    if arn is not None:  # the data plane's other spelling: one split, as fast as StreamName
        return arn.rpartition("/")[2] if isinstance(arn, str) else None
    arn = params.get("ConsumerARN")
    if arn is None:
        arn = params.get("ResourceARN")
        if arn is None:
            return None
    return stream_in_arn(arn) if isinstance(arn, str) else None


def stream_in_arn(arn: str) -> str | None:
    """The stream name in a stream ARN (``...:stream/<name>``) or a consumer ARN
    (``...:stream/<name>/consumer/<consumer>:<created>``); None for any other ARN."""
    _, marker, rest = arn.partition(":stream/")
    name = rest.partition("/")[0]
    return name if marker and name else None


def iterator_names(engine: Engine, text: str) -> tuple[str | None, str | None]:
    """(stream, shard id) from a shard iterator, or (None, None) if it is not a valid one."""
    try:
        token = iterators.decode(engine.iterator_key, text)
    except iterators.InvalidIterator:
        return None, None
    return token.stream_name, shard_id(token.shard_index)
