"""What a read of one shard returns (GetRecords' and SubscribeToShard's shared read path), and
the read-side callables the engine hands to the services that read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shardflow.engine.streams import Shard, Stream
from shardflow.storage.records import RecordPage


@dataclass(slots=True)
class ReadResult:
    records: RecordPage  # with its size in bytes as AWS counts them (data + UTF-8 keys)
    stream_name: str
    shard_index: int
    next_iterator: str | None
    millis_behind_latest: int
    child_shards: list[Shard]

    @property
    def size(self) -> int:
        """Bytes of ``records`` as AWS counts them (data + UTF-8 partition keys)."""
        return self.records.size


class StartPosition(Protocol):
    """``Reads.start_position``: the stream, shard and position a request starts at."""

    def __call__(
        self, params: dict[str, Any], operation: str = "GetShardIterator"
    ) -> tuple[Stream, Shard, int]: ...


# ``Reads.read_shard``: (stream, shard, position, limit, max_bytes) -> the records and what follows
ReadShard = Callable[[Stream, Shard, int, int, int], ReadResult]
