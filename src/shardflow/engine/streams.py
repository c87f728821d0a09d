"""Streams and shards as the engine holds them in memory (persisted as JSON documents)."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from shardflow.clock import SYSTEM_CLOCK, Clock
from shardflow.model import sequence
from shardflow.model.enums import ConsumerStatus, EncryptionType, StreamMode, StreamStatus
from shardflow.model.shard_ids import shard_id

DEFAULT_RETENTION_HOURS = 24  # AWS default retention
DEFAULT_MAX_RECORD_KIB = 1024  # data + partition key per record, unless UpdateMaxRecordSize


def doc_json(obj: Shard | Stream) -> str:
    """The JSON document a stream or shard is stored as."""
    return orjson.dumps(obj.to_doc()).decode()


@dataclass
class Shard:
    uid: int  # storage key: unique over the database's life
    stream_uid: int
    index: int  # shardId-<index>
    hash_start: int
    hash_end: int
    start_position: int  # the global position counter when the shard opened
    created_ms: int
    parent_index: int | None = None
    adjacent_parent_index: int | None = None
    # A reshard closes a shard in two steps: ``closed_ms`` at once (routing stops sending it
    # records), ``end_position`` when the change commits (every record routed to it before the
    # change has a position by then), which is what ends its reads.
    end_position: int | None = None
    closed_ms: int | None = None

    @property
    def shard_id(self) -> str:
        return shard_id(self.index)

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    def describe(self) -> dict[str, Any]:
        """The Shard shape of DescribeStream and ListShards."""
        out: dict[str, Any] = {"ShardId": self.shard_id}
        if self.parent_index is not None:
            out["ParentShardId"] = shard_id(self.parent_index)
        if self.adjacent_parent_index is not None:
            out["AdjacentParentShardId"] = shard_id(self.adjacent_parent_index)
        out["HashKeyRange"] = {
            "StartingHashKey": str(self.hash_start),
            "EndingHashKey": str(self.hash_end),
        }
        seq_range = {"StartingSequenceNumber": sequence.encode(self.index, self.start_position)}
        if self.end_position is not None:
            seq_range["EndingSequenceNumber"] = sequence.encode(self.index, self.end_position)
        out["SequenceNumberRange"] = seq_range
        return out

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        # 128-bit hash keys exceed JSON's safe integers: store them as decimal strings.
        doc["hash_start"], doc["hash_end"] = str(self.hash_start), str(self.hash_end)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Shard:
        return cls(
            **{**doc, "hash_start": int(doc["hash_start"]), "hash_end": int(doc["hash_end"])}
        )


@dataclass
class RegisteredConsumer:
    """An enhanced fan-out consumer registered to a stream (persisted inside the stream's doc)."""

    name: str
    created_ms: int
    ready_at_ms: int  # CREATING until then
    delete_at_ms: int | None = None  # set by DeregisterStreamConsumer: gone after this time
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None  # PutResourcePolicy on the consumer's ARN

    def arn(self, stream_arn: str) -> str:
        """AWS's form: the stream ARN, ``/consumer/``, the name and the creation epoch second."""
        return f"{stream_arn}/consumer/{self.name}:{self.created_ms // 1000}"

    def status(self, at_ms: int) -> str:
        """CREATING, ACTIVE or DELETING at ``at_ms`` (its stream's ``clock``)."""
        if self.delete_at_ms is not None:
            return ConsumerStatus.DELETING
        return ConsumerStatus.ACTIVE if at_ms >= self.ready_at_ms else ConsumerStatus.CREATING

    def is_gone(self, at_ms: int) -> bool:
        return self.delete_at_ms is not None and at_ms >= self.delete_at_ms


@dataclass
class Stream:
    uid: int
    name: str
    arn: str
    created_ms: int
    status: str  # CREATING, ACTIVE, UPDATING, DELETING: see ``current_status``
    ready_at_ms: int  # when a CREATING/UPDATING stream turns ACTIVE
    mode: str = StreamMode.PROVISIONED
    retention_hours: int = DEFAULT_RETENTION_HOURS
    encryption_type: str = EncryptionType.NONE
    key_id: str | None = None
    # When records started and stopped being written encrypted, oldest first and starting with a
    # switch to KMS: a record is KMS if it arrived after an odd number of them
    # (engine/encryption.py).
    kms_switches_ms: list[int] = field(default_factory=list)
    last_key_id: str | None = None  # the KMS key last applied, kept after StopStreamEncryption
    new_keys_ms: list[int] = field(default_factory=list)  # new KMS keys applied, for their limit
    encryption_stops_ms: list[int] = field(default_factory=list)  # StopStreamEncryption calls
    tags: dict[str, str] = field(default_factory=dict)
    shard_level_metrics: list[str] = field(default_factory=list)
    max_record_kib: int = DEFAULT_MAX_RECORD_KIB
    delete_at_ms: int | None = None  # set by DeleteStream: gone after this time
    scalings_ms: list[int] = field(default_factory=list)  # UpdateShardCount calls, for its limit
    mode_switches_ms: list[int] = field(default_factory=list)  # UpdateStreamMode, for its limit
    warm_throughput_mibps: int | None = None  # target of CreateStream/UpdateStreamWarmThroughput
    record_distribution: str | None = None  # RecordDistributionStrategy, when one was set
    policy: str | None = None  # PutResourcePolicy on the stream's ARN
    consumers: list[RegisteredConsumer] = field(default_factory=list)  # in registration order
    shards: list[Shard] = field(default_factory=list)
    # Routing table of open shards, rebuilt when shards change: sorted hash-range starts.
    _route_starts: list[int] = field(default_factory=list, repr=False)
    _route_shards: list[Shard] = field(default_factory=list, repr=False)
    _turn: int = field(default=0, repr=False)  # AUTO distribution: the open shard used last
    # The engine's clock (not stored): the state delays and expiry are measured on it.
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False, compare=False)

    def current_status(self, at_ms: int | None = None) -> str:
        """State transitions take effect lazily, so a delay needs no timer and survives restart."""
        at = self.clock.now_ms() if at_ms is None else at_ms
        if self.delete_at_ms is not None:
            return StreamStatus.DELETING
        if self.status in (StreamStatus.CREATING, StreamStatus.UPDATING) and at >= self.ready_at_ms:
            return StreamStatus.ACTIVE
        return self.status

    def is_gone(self, at_ms: int | None = None) -> bool:
        at = self.clock.now_ms() if at_ms is None else at_ms
        return self.delete_at_ms is not None and at >= self.delete_at_ms

    def rebuild_routes(self) -> None:
        open_shards = sorted((s for s in self.shards if s.is_open), key=lambda s: s.hash_start)
        self._route_shards = open_shards
        self._route_starts = [s.hash_start for s in open_shards]

    def route(self, hash_key: int) -> Shard:
        """The open shard whose hash-key range holds ``hash_key``."""
        return self._route_shards[bisect.bisect_right(self._route_starts, hash_key) - 1]

    def next_open_shard(self) -> Shard:
        """The open shard after the one this returned last (in hash-key order): the AUTO record
        distribution's round robin, which spreads records evenly whatever their keys."""
        self._turn = turn = (self._turn + 1) % len(self._route_shards)
        return self._route_shards[turn]

    def shard(self, index: int) -> Shard | None:
        # Shards are appended in index order and never removed while the stream lives.
        if 0 <= index < len(self.shards) and self.shards[index].index == index:
            return self.shards[index]
        for s in self.shards:
            if s.index == index:
                return s
        return None

    @property
    def open_shard_count(self) -> int:
        return len(self._route_shards)

    def mode_details(self) -> dict[str, str]:
        return {"StreamMode": self.mode}

    def enhanced_monitoring(self) -> list[dict[str, list[str]]]:
        return [{"ShardLevelMetrics": list(self.shard_level_metrics)}]

    def live_consumers(self, at_ms: int | None = None) -> list[RegisteredConsumer]:
        """Registered consumers, DELETING ones included until their delay passes."""
        at = self.clock.now_ms() if at_ms is None else at_ms
        return [c for c in self.consumers if not c.is_gone(at)]

    def to_doc(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        doc.pop("shards")
        doc.pop("clock")
        return doc

    @classmethod
    def from_doc(
        cls, doc: dict[str, Any], shards: list[Shard], clock: Clock = SYSTEM_CLOCK
    ) -> Stream:
        fields = {k: v for k, v in doc.items() if k != "consumers"}
        consumers = [RegisteredConsumer(**c) for c in doc.get("consumers", [])]
        stream = cls(
            **fields,
            consumers=consumers,
            shards=sorted(shards, key=lambda s: s.index),
            clock=clock,
        )
        stream.rebuild_routes()
        return stream
