"""A queue's settings and per-record delivery state, its receipt handles and record ids.

A queue is a server-tracked consumer of one ON_DEMAND stream. Per shard it keeps a cursor (the
first position never delivered); a record below the cursor is either acknowledged (no state) or
has a ``Delivery``. Receipt handles name (queue, shard, position, generation): a new generation
is issued per delivery, so a handle from an earlier delivery no longer matches.
"""

from __future__ import annotations

import base64
import heapq
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from shardflow import errors
from shardflow.model import sequence

DEFAULT_VISIBILITY_S = 30  # AWS: a queue created without VisibilityTimeoutSeconds
DEFAULT_MAX_RECEIVE_COUNT = 6  # AWS: dead-letter handling on by default, after 6 receives
MAX_IN_FLIGHT = 120_000  # AWS: in-flight records per queue
_HANDLE = struct.Struct(">QQQ")  # shard uid, position, generation
_HANDLE_PREFIX = "kq1."


@dataclass(slots=True)
class QueueSettings:
    """The stored document of a queue."""

    uid: int
    queue_id: str  # the generated resource id in the ARN
    name: str
    arn: str
    stream_arn: str
    stream_uid: int
    stream_created_ms: int
    start_type: str  # LATEST, TRIM_HORIZON or AT_TIMESTAMP
    start_timestamp_ms: int | None  # what AT_TIMESTAMP asked for
    effective_start_ms: int  # the position's approximate time, shown once ACTIVE
    from_position: int  # a shard without a cursor starts here
    visibility_s: int
    dead_letters: bool  # DeadLetterConfiguration TargetType BUILT_IN
    max_receive_count: int
    created_ms: int
    ready_at_ms: int  # CREATING until then
    updating_until_ms: int = 0
    delete_at_ms: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def status(self, now_ms: int) -> str:
        if self.delete_at_ms is not None:
            return "DELETING"
        if now_ms < self.ready_at_ms:
            return "CREATING"
        if now_ms < self.updating_until_ms:
            return "UPDATING"
        return "ACTIVE"

    def gone(self, now_ms: int) -> bool:
        return self.delete_at_ms is not None and now_ms >= self.delete_at_ms

    def doc(self) -> str:
        return orjson.dumps({k: getattr(self, k) for k in self.__slots__}).decode()

    @classmethod
    def from_doc(cls, text: str) -> QueueSettings:
        return cls(**orjson.loads(text))

    def attributes(self) -> dict[str, Any]:
        dead: dict[str, Any] = {"TargetType": "BUILT_IN" if self.dead_letters else "NONE"}
        if self.dead_letters:
            dead["MaxReceiveCount"] = self.max_receive_count
        return {"VisibilityTimeoutSeconds": self.visibility_s, "DeadLetterConfiguration": dead}


@dataclass(slots=True)
class Delivery:
    """A delivered record not yet acknowledged (in flight, visible again, or a dead letter)."""

    receive_count: int
    first_receive_ms: int
    visible_at_ms: int
    generation: int
    dead: bool = False


Key = tuple[int, int]  # (shard uid, position)


@dataclass(slots=True)
class QueueState:
    """A queue's settings with its in-memory delivery state (mirrored in ``queue_store``)."""

    settings: QueueSettings
    cursors: dict[int, int] = field(default_factory=dict)  # shard uid -> next position
    deliveries: dict[Key, Delivery] = field(default_factory=dict)
    # (visible at, shard uid, position, generation): lazily pruned; stale entries are skipped
    ready: list[tuple[int, int, int, int]] = field(default_factory=list)
    dead_ready: list[tuple[int, int, int, int]] = field(default_factory=list)
    # records whose visibility timeout passed, ready to be received again: (key, generation)
    visible: deque[tuple[Key, int]] = field(default_factory=deque)
    dead_visible: deque[tuple[Key, int]] = field(default_factory=deque)
    live_count: int = 0  # deliveries that are not dead letters (the in-flight bound's base)
    next_generation: int = 1
    next_shard: int = 0  # round robin over shards for fresh records

    def schedule(self, key: Key, delivery: Delivery) -> None:
        heap = self.dead_ready if delivery.dead else self.ready
        heapq.heappush(heap, (delivery.visible_at_ms, key[0], key[1], delivery.generation))

    def clear(self) -> None:
        self.deliveries.clear()
        self.cursors.clear()
        self.ready.clear()
        self.dead_ready.clear()
        self.visible.clear()
        self.dead_visible.clear()
        self.live_count = 0

    def counts(self, now_ms: int) -> tuple[int, int, int]:
        """(in flight, visible again, visible dead letters) among delivered records."""
        in_flight = visible = dead = 0
        for d in self.deliveries.values():
            if d.visible_at_ms > now_ms:
                in_flight += 1
            elif d.dead:
                dead += 1
            else:
                visible += 1
        return in_flight, visible, dead


def encode_handle(queue_id: str, shard_uid: int, position: int, generation: int) -> str:
    """The queue's generated id (never reused, unlike its uid) and the delivery."""
    raw = _HANDLE.pack(shard_uid, position, generation)
    return f"{_HANDLE_PREFIX}{queue_id}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


def decode_handle(text: str) -> tuple[str, int, int, int] | None:
    """(queue id, shard uid, position, generation), or None for text that is no handle."""
    if not text.startswith(_HANDLE_PREFIX):
        return None
    queue_id, _, body = text[len(_HANDLE_PREFIX) :].partition(".")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not queue_id or len(raw) != _HANDLE.size:
            return None
        shard_uid, position, generation = _HANDLE.unpack(raw)
    except (ValueError, struct.error):
        return None
    return queue_id, shard_uid, position, generation


def record_id(shard_index: int, position: int) -> str:
    """The RecordId: the record's sequence number, so it is the same across deliveries and in
    every queue of the stream (digits only, within the model's ``^[a-z0-9]+$`` and 64 chars)."""
    return sequence.encode(shard_index, position)


def apply_attributes(
    given: dict[str, Any], visibility: int, dead_letters: bool, max_receive: int
) -> tuple[int, bool, int]:
    """QueueAttributes applied over the current (or default) values, with AWS's checks."""
    if "VisibilityTimeoutSeconds" in given:
        visibility = int(given["VisibilityTimeoutSeconds"])
    config = given.get("DeadLetterConfiguration")
    if config is not None:
        count = config.get("MaxReceiveCount")
        if config["TargetType"] == "BUILT_IN":
            if count is None:
                raise errors.ValidationException(
                    "MaxReceiveCount must be specified when the DeadLetterConfiguration"
                    " TargetType is BUILT_IN."
                )
            dead_letters, max_receive = True, int(count)
        else:
            if count is not None:
                raise errors.ValidationException(
                    "MaxReceiveCount must not be specified when the DeadLetterConfiguration"
                    " TargetType is NONE."
                )
            dead_letters = False
    return visibility, dead_letters, max_receive
