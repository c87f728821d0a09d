"""Resharding: SplitShard, MergeShards and UpdateShardCount, with AWS's semantics.

A change closes parent shards and opens children in one metadata transaction, so a crash leaves
either the old shards or the new ones. Routing switches to the children the moment the change is
queued; the parents' EndingSequenceNumber is fixed inside the transaction, after every record
routed to them earlier has been given its position (writes are committed in queue order), so no
record can land in a parent after its end. Children start above everything before them because
positions come from one global counter.

The three operations are "only supported for the data streams with the provisioned capacity
mode" (AWS's model): on an ON_DEMAND stream they are refused. The engine's own rescaling of
ON_DEMAND streams (load, warm throughput) goes through ``scale``, which has no such rule.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from shardflow import errors
from shardflow.engine.access import StreamAccess
from shardflow.engine.streams import Shard, Stream, doc_json
from shardflow.model import hashing
from shardflow.model.enums import StreamMode
from shardflow.model.shard_ids import no_such_shard, shard_id, shard_index
from shardflow.storage.metadata import ReshardDocs

# Store a reshard: (stream uid, stream document), documents given the commit position ->
# the position it committed at (``MetadataRepository.apply_reshard``).
ApplyReshard = Callable[[tuple[int, str], Callable[[int], ReshardDocs]], Awaitable[int]]

MAX_SCALINGS_PER_DAY = 10  # AWS: UpdateShardCount calls per rolling 24 hours
MAX_SHARDS_PER_STREAM = 10_000  # AWS: UpdateShardCount cannot go above this
DAY_MS = 86_400_000


class Resharder:
    def __init__(
        self,
        access: StreamAccess,
        apply_reshard: ApplyReshard,
        allocate_shard_uid: Callable[[], int],
        check_shard_limit: Callable[[int], None],
    ) -> None:
        self._access = access
        self._apply_reshard = apply_reshard
        self._allocate_shard_uid = allocate_shard_uid
        self._check_shard_limit = check_shard_limit

    @property
    def _account(self) -> str:
        return self._access.account_id

    # -- the three operations --------------------------------------------------------------

    async def split(self, params: dict[str, Any]) -> None:
        self._check_shard_ids(params, "ShardToSplit")
        stream = self._provisioned_stream(params, "SplitShard")
        parent = self._open_shard(stream, params["ShardToSplit"], "splitting")
        new_start = int(params["NewStartingHashKey"])
        if not parent.hash_start + 1 < new_start < parent.hash_end:
            raise errors.InvalidArgumentException(
                f"NewStartingHashKey {params['NewStartingHashKey']} used in SplitShard() on shard"
                f" {parent.shard_id} in stream {stream.name} under account {self._account} is"
                " not both greater than one plus the shard's StartingHashKey"
                f" {parent.hash_start} and less than the shard's EndingHashKey {parent.hash_end}."
            )
        self._check_shard_limit(1)
        changes = _Plan(stream, self._allocate_shard_uid)
        changes.split(parent, new_start)
        await self._apply(stream, changes)

    async def merge(self, params: dict[str, Any]) -> None:
        self._check_shard_ids(params, "ShardToMerge", "AdjacentShardToMerge")
        stream = self._provisioned_stream(params, "MergeShards")
        first = self._open_shard(stream, params["ShardToMerge"], "merging")
        second = self._open_shard(stream, params["AdjacentShardToMerge"], "merging")
        if first.hash_end + 1 != second.hash_start and second.hash_end + 1 != first.hash_start:
            raise errors.InvalidArgumentException(
                f"Shards {first.shard_id} and {second.shard_id} in stream {stream.name} under"
                f" account {self._account} are not an adjacent pair of shards eligible for"
                " merging"
            )
        changes = _Plan(stream, self._allocate_shard_uid)
        changes.merge(first, second)
        await self._apply(stream, changes)

    async def update_shard_count(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._provisioned_stream(params, "UpdateShardCount")
        target = int(params["TargetShardCount"])
        current = stream.open_shard_count
        name, account = stream.name, self._account
        if target > 2 * current:
            raise errors.LimitExceededException(
                f"UpdateShardCount cannot scale up over double your current open shard count."
                f" Current open shard count: {current}, target shard count: {target}, stream"
                f" {name} under account {account}."
            )
        if 2 * target < current:
            raise errors.LimitExceededException(
                f"UpdateShardCount cannot scale down below half your current open shard count."
                f" Current open shard count: {current}, target shard count: {target}, stream"
                f" {name} under account {account}."
            )
        if target > MAX_SHARDS_PER_STREAM:
            raise errors.LimitExceededException(
                f"UpdateShardCount cannot scale up over {MAX_SHARDS_PER_STREAM} shards in a"
                f" stream. Target shard count: {target}, stream {name} under account {account}."
            )
        now = self._access.now_ms()
        recent = [t for t in stream.scalings_ms if now - t < DAY_MS]
        if len(recent) >= MAX_SCALINGS_PER_DAY:
            raise errors.LimitExceededException(
                f"Stream {name} under account {account} has already been scaled"
                f" {MAX_SCALINGS_PER_DAY} times in the last 24 hours. Try again later."
            )
        stream.scalings_ms = [*recent, now]
        await self.scale(stream, target)
        return {
            "StreamName": name,
            "StreamARN": stream.arn,
            "CurrentShardCount": current,
            "TargetShardCount": target,
        }

    async def scale(self, stream: Stream, target: int) -> None:
        """Uniformly rescale to ``target`` open shards (UpdateShardCount, ON_DEMAND growth and
        warm throughput)."""
        self._check_shard_limit(target - stream.open_shard_count)
        changes = _Plan(stream, self._allocate_shard_uid)
        changes.scale_uniformly(target)
        await self._apply(stream, changes)

    # -- shared steps ----------------------------------------------------------------------

    def _provisioned_stream(self, params: dict[str, Any], operation: str) -> Stream:
        """The ACTIVE stream a resharding request names, refused if it is ON_DEMAND.

        The error type is the model's: its ValidationException covers "the operation is not
        supported for the stream's capacity mode". AWS publishes no message: this one is ours.
        """
        stream = self._access.active_stream(params)
        if stream.mode == StreamMode.ON_DEMAND:
            raise errors.ValidationException(
                f"{operation} is only supported for streams with PROVISIONED capacity mode."
                f" Stream {stream.name} under account {self._account} is ON_DEMAND."
            )
        return stream

    def _check_shard_ids(self, params: dict[str, Any], *fields: str) -> None:
        """A ShardId that is no shard id is refused before the stream is looked up (AWS)."""
        for field in fields:
            if shard_index(params[field]) is None:
                name = params.get("StreamName") or str(params.get("StreamARN")).rpartition("/")[2]
                raise errors.ResourceNotFoundException(
                    no_such_shard(params[field], name, self._account)
                )

    def _open_shard(self, stream: Stream, text: str, verb: str) -> Shard:
        index = shard_index(text)
        shard = stream.shard(index) if index is not None else None
        if shard is None:
            name = shard_id(index) if index is not None else text
            raise errors.ResourceNotFoundException(
                f"Could not find shard {name} in stream {stream.name} under account"
                f" {self._account}."
            )
        if not shard.is_open:
            raise errors.ResourceInUseException(
                f"Shard {shard.shard_id} in stream {stream.name} under account {self._account}"
                f" has already been merged or split, and thus is not eligible for {verb}."
            )
        return shard

    async def _apply(self, stream: Stream, plan: _Plan) -> None:
        """Switch routing now; commit the closed parents and new children atomically."""
        now = self._access.now_ms()
        for shard in plan.closed:
            shard.closed_ms = now
        stream.shards.extend(plan.opened)
        stream.rebuild_routes()
        self._access.begin_update(stream)

        # Snapshots for the writer thread: the live shards are changed on the event loop only.
        closed = [dataclasses.replace(shard) for shard in plan.closed]
        opened = [dataclasses.replace(shard) for shard in plan.opened]
        settled = _settler(plan)

        def docs_at(position: int) -> ReshardDocs:
            return ReshardDocs(
                closed=[(s.uid, doc_json(settled(s, position))) for s in closed],
                opened=[(s.uid, doc_json(settled(s, position))) for s in opened],
            )

        try:
            position = await self._apply_reshard((stream.uid, doc_json(stream)), docs_at)
        except BaseException:
            for shard in plan.closed:
                shard.closed_ms = shard.end_position = None
            for shard in plan.opened:
                stream.shards.remove(shard)
            stream.rebuild_routes()
            raise
        for shard in (*plan.closed, *plan.opened):
            fixed = settled(shard, position)
            shard.start_position, shard.end_position = fixed.start_position, fixed.end_position


def _settler(plan: _Plan) -> Callable[[Shard, int], Shard]:
    """``settled(shard, position)``: a copy of ``shard`` with the positions the change fixes
    when it commits at ``position`` (children start there; parents end there unless already
    ended). Uses only frozen uid sets, so the writer thread may call it on snapshots."""
    opened = frozenset(s.uid for s in plan.opened)
    closed = frozenset(s.uid for s in plan.closed)

    def settled(shard: Shard, position: int) -> Shard:
        changes: dict[str, int] = {}
        if shard.uid in opened:
            changes["start_position"] = position
        if shard.end_position is None and shard.uid in closed:
            changes["end_position"] = position
        return dataclasses.replace(shard, **changes)

    return settled


class _Plan:
    """The shards a change closes and opens, built by successive splits and merges.

    Intermediate shards of a multi-step UpdateShardCount are opened and closed within the same
    change, so every shard keeps at most a parent and an adjacent parent, as on AWS.
    """

    def __init__(self, stream: Stream, allocate_uid: Callable[[], int]) -> None:
        self.stream = stream
        self._allocate_uid = allocate_uid
        self.closed: list[Shard] = []
        self.opened: list[Shard] = []
        self._next_index = len(stream.shards)
        self._open = {s.index: s for s in stream.shards if s.is_open}

    def _new(self, start: int, end: int, parent: Shard, adjacent: Shard | None = None) -> Shard:
        shard = Shard(
            uid=self._allocate_uid(),
            stream_uid=self.stream.uid,
            index=self._next_index,
            hash_start=start,
            hash_end=end,
            start_position=0,  # fixed when the change commits
            created_ms=self.stream.clock.now_ms(),
            parent_index=parent.index,
            adjacent_parent_index=adjacent.index if adjacent else None,
        )
        self._next_index += 1
        self.opened.append(shard)
        self._open[shard.index] = shard
        return shard

    def _close(self, shard: Shard) -> None:
        self.closed.append(shard)
        del self._open[shard.index]

    def split(self, parent: Shard, new_start: int) -> tuple[Shard, Shard]:
        self._close(parent)
        left = self._new(parent.hash_start, new_start - 1, parent)
        right = self._new(new_start, parent.hash_end, parent)
        return left, right

    def merge(self, first: Shard, second: Shard) -> Shard:
        low, high = (first, second) if first.hash_start < second.hash_start else (second, first)
        self._close(first)
        self._close(second)
        return self._new(low.hash_start, high.hash_end, first, second)

    def scale_uniformly(self, target: int) -> None:
        """Reach ``target`` evenly spread shards: split at every new boundary, then merge.

        One pass over the sorted shards (a warm throughput can ask for thousands at once).
        """
        ranges = hashing.even_ranges(target)
        boundaries = [start for start, _ in ranges[1:]]
        for shard in sorted(self._open.values(), key=lambda s: s.hash_start):
            piece = shard
            # the new boundaries strictly inside this shard's range
            first = bisect.bisect_right(boundaries, shard.hash_start)
            last = bisect.bisect_right(boundaries, shard.hash_end)
            for boundary in boundaries[first:last]:
                _, piece = self.split(piece, boundary)
        # Every new range now starts a piece: merge each range's pieces, walking them in order.
        pieces = sorted(self._open.values(), key=lambda s: s.hash_start)
        i = 0
        for _, end in ranges:
            merged = pieces[i]
            i += 1
            while i < len(pieces) and pieces[i].hash_start <= end:
                merged = self.merge(merged, pieces[i])
                i += 1
