"""A new stream's record: its ARN in the request's account and region, and its first shards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shardflow.clock import Clock
from shardflow.engine.streams import Shard, Stream
from shardflow.model import hashing
from shardflow.model.enums import StreamMode, StreamStatus
from shardflow.model.shard_ids import stream_arn


@dataclass(frozen=True, slots=True)
class NewStream:
    """What CreateStream asked for, after its checks."""

    name: str
    shard_count: int
    mode: str
    tags: dict[str, str]
    max_record_kib: int
    warm_throughput_mibps: int | None
    record_distribution: str | None


def build_stream(
    spec: NewStream,
    *,
    uid: int,
    region: str,
    account: str,
    delay_ms: int,
    position: int,
    allocate_shard_uid: Callable[[], int],
    clock: Clock,
) -> Stream:
    """The stream, CREATING for ``delay_ms``, with evenly split shards starting at ``position``
    (the store's next record position)."""
    created = clock.now_ms()
    stream = Stream(
        uid=uid,
        name=spec.name,
        arn=stream_arn(region, account, spec.name),
        created_ms=created,
        status=StreamStatus.CREATING if delay_ms else StreamStatus.ACTIVE,
        ready_at_ms=created + delay_ms,
        mode=spec.mode,
        tags=dict(spec.tags),
        max_record_kib=spec.max_record_kib,
        warm_throughput_mibps=spec.warm_throughput_mibps
        if spec.mode == StreamMode.ON_DEMAND
        else None,
        record_distribution=spec.record_distribution,
        clock=clock,
    )
    for index, (start, end) in enumerate(hashing.even_ranges(spec.shard_count)):
        stream.shards.append(
            Shard(
                uid=allocate_shard_uid(),
                stream_uid=uid,
                index=index,
                hash_start=start,
                hash_end=end,
                start_position=position,
                created_ms=created,
            )
        )
    stream.rebuild_routes()
    return stream
