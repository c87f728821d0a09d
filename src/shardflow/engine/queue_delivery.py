"""Kinesis queues, data plane: ReceiveQueueRecords, AcknowledgeQueueRecords,
UpdateQueueRecordsVisibility and their four dead-letter counterparts.

Every change is made in memory first (so concurrent calls on the event loop never hand out one
record twice) and then committed through ``queue_store`` before the call is answered: an
answered acknowledgement survives ``kill -9``; visibility deadlines are wall-clock times, so a
restart resumes them. Long polls wait on the engine's ``RecordsIn`` events for their stream
and on the next visibility deadline, and answer as soon as something is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from typing import Any

from shardflow import errors
from shardflow.engine.events import Event, EventBus, QueueDepth, QueueRecordsMoved, RecordsIn
from shardflow.engine.queue_model import (
    MAX_IN_FLIGHT,
    Delivery,
    Key,
    QueueState,
    decode_handle,
    encode_handle,
    record_id,
)
from shardflow.engine.queue_service import Queues
from shardflow.storage.queue_store import DeliveryRow
from shardflow.storage.sqlite import StoredRecord

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10  # AWS: records per receive unless Limit says fewer
DEFAULT_WAIT_S = 9  # AWS: WaitTimeSeconds' default
SAMPLE_S = 1.0  # how often the queue gauges are sampled (while metrics are on)
VISIBLE_CAP = 1_000_000  # AWS: VisibleQueueRecords reports up to 1,000,000 records
_ANY_SIZE = 1 << 62
_GONE = (
    "The record of this receipt handle is no longer in the queue: it was acknowledged, or the"
    " queue stopped delivering it."
)
_RECEIVED_AGAIN = (
    "The receipt handle has expired: the record was received again with a new receipt handle."
)
_IS_DEAD = (
    "The record of this receipt handle is a dead-letter record: use the dead-letter operations."
)
_NOT_DEAD = "The record of this receipt handle is not a dead-letter record."

Taken = tuple[Key, Delivery, StoredRecord]
# One entry's change to the delivery its receipt handle names (made in memory, then committed).
Change = Callable[[dict[str, Any], Key, Delivery], None]


class QueueDelivery:
    def __init__(self, queues: Queues, events: EventBus) -> None:
        self._queues = queues
        self._events = events
        self._waiters: dict[str, set[asyncio.Event]] = {}  # by stream ARN
        self._subscribed = False
        self._sampler: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample every queue's record counts once a second for the metrics."""
        self._sampler = asyncio.create_task(self._sample_forever())

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    # -- receive ---------------------------------------------------------------------------

    async def receive(self, params: dict[str, Any], *, dead: bool) -> dict[str, Any]:
        state = self._queues.lookup(params["QueueARN"])
        self._check_active(state)
        limit = params.get("Limit") or DEFAULT_LIMIT
        wait_s = params.get("WaitTimeSeconds") or DEFAULT_WAIT_S
        visibility = params.get("VisibilityTimeoutSeconds")
        if visibility is None:
            visibility = state.settings.visibility_s
        deadline = time.monotonic() + wait_s
        while True:
            records = await self._take(state, limit, visibility, dead)
            left = deadline - time.monotonic()
            if records or left <= 0 or self._queues.states.get(state.settings.uid) is not state:
                if not dead:
                    self._moved(state, received=len(records), empty=not records)
                return {"QueueRecords": records}
            await self._wait(state, left)

    async def _take(
        self, state: QueueState, limit: int, visibility: int, dead: bool
    ) -> list[dict[str, Any]]:
        queues = self._queues
        stream = queues.stream_of(state)
        now = queues.clock()
        changed: list[DeliveryRow] = []
        deletes: list[tuple[int, int, int]] = []
        self._promote(state, now, changed)
        taken: list[Taken] = []
        pool = state.dead_visible if dead else state.visible
        while pool and len(taken) < limit:
            key, generation = pool.popleft()
            d = state.deliveries.get(key)
            if d is None or d.generation != generation or d.dead != dead or d.visible_at_ms > now:
                continue  # acknowledged, extended, or received again since
            found = queues.records.read(key[0], key[1], 1, _ANY_SIZE)
            if not found or found[0].position != key[1]:  # past the stream's retention
                del state.deliveries[key]
                state.live_count -= not d.dead
                deletes.append((state.settings.uid, *key))
                continue
            taken.append((key, d, found[0]))
        cursors: list[tuple[int, int, int]] = []
        fresh_room = MAX_IN_FLIGHT - (state.live_count - len(state.visible))
        if not dead and len(taken) < limit and fresh_room > 0 and stream.shards:
            count = len(stream.shards)
            for i in range(count):
                want = min(limit - len(taken), fresh_room)
                if want <= 0:
                    break
                shard = stream.shards[(state.next_shard + i) % count]
                cursor = state.cursors.get(shard.uid, state.settings.from_position)
                found = queues.records.read(shard.uid, cursor, want, _ANY_SIZE)
                if not found:
                    continue
                state.cursors[shard.uid] = found[-1].position + 1
                cursors.append((state.settings.uid, shard.uid, found[-1].position + 1))
                for record in found:
                    key = (shard.uid, record.position)
                    d = Delivery(0, now, now, 0)
                    state.deliveries[key] = d
                    state.live_count += 1
                    fresh_room -= 1
                    taken.append((key, d, record))
            state.next_shard = (state.next_shard + 1) % count
        index_of = {s.uid: s.index for s in stream.shards}
        out = []
        for key, d, record in taken:
            if not dead:
                d.receive_count += 1
            d.visible_at_ms = now + visibility * 1000
            d.generation = state.next_generation
            state.next_generation += 1
            state.schedule(key, d)
            changed.append(_row(state, key, d))
            out.append(
                {
                    "ReceiptHandle": encode_handle(
                        state.settings.queue_id, key[0], key[1], d.generation
                    ),
                    "RecordId": record_id(index_of.get(key[0], 0), key[1]),
                    "PartitionKey": record.partition_key,
                    "Data": record.data,
                    "ApproximateArrivalTimestamp": record.arrival_ms / 1000,
                    "FirstReceiveTimestamp": d.first_receive_ms / 1000,
                    "ReceiveCount": d.receive_count,
                }
            )
        if changed or deletes or cursors:
            await queues.tables.change(changed, deletes, cursors)
        return out

    def _promote(self, state: QueueState, now: int, changed: list[DeliveryRow]) -> None:
        """Records whose visibility timeout passed become visible again, or dead letters once
        received MaxReceiveCount times (with dead-letter handling on)."""
        settings = state.settings
        while state.ready and state.ready[0][0] <= now:
            visible_at, shard_uid, position, generation = heapq.heappop(state.ready)
            key = (shard_uid, position)
            d = state.deliveries.get(key)
            if d is None or d.dead or d.generation != generation or d.visible_at_ms != visible_at:
                continue
            if settings.dead_letters and d.receive_count >= settings.max_receive_count:
                d.dead = True
                state.live_count -= 1
                state.dead_visible.append((key, generation))
                changed.append(_row(state, key, d))
            else:
                state.visible.append((key, generation))
        while state.dead_ready and state.dead_ready[0][0] <= now:
            visible_at, shard_uid, position, generation = heapq.heappop(state.dead_ready)
            key = (shard_uid, position)
            d = state.deliveries.get(key)
            if d is None or not d.dead or d.generation != generation:
                continue
            if d.visible_at_ms == visible_at:
                state.dead_visible.append((key, generation))

    # -- acknowledge, visibility, restore --------------------------------------------------

    async def acknowledge(self, params: dict[str, Any], *, dead: bool) -> dict[str, Any]:
        state = self._queues.lookup(params["QueueARN"])

        def forget(entry: dict[str, Any], key: Key, d: Delivery) -> None:
            del state.deliveries[key]
            state.live_count -= not d.dead

        answer, done = self._each(state, params["Entries"], dead, forget)
        if done:
            await self._queues.tables.change(deletes=[(state.settings.uid, *k) for k, _ in done])
            if not dead:
                self._moved(state, acknowledged=len(done))
        return answer

    async def change_visibility(self, params: dict[str, Any], *, dead: bool) -> dict[str, Any]:
        state = self._queues.lookup(params["QueueARN"])
        now = self._queues.clock()

        def extend(entry: dict[str, Any], key: Key, d: Delivery) -> None:
            d.visible_at_ms = now + int(entry["VisibilityTimeoutSeconds"]) * 1000
            state.schedule(key, d)

        return await self._apply(state, params["Entries"], dead, extend)

    async def restore(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self._queues.lookup(params["QueueARN"])
        now = self._queues.clock()

        def revive(entry: dict[str, Any], key: Key, d: Delivery) -> None:
            d.dead = False
            d.receive_count = 0
            d.visible_at_ms = now
            d.generation = state.next_generation  # the dead-letter handle stops working
            state.next_generation += 1
            state.live_count += 1
            state.visible.append((key, d.generation))

        return await self._apply(state, params["Entries"], True, revive)

    async def _apply(
        self, state: QueueState, entries: list[dict[str, Any]], dead: bool, change: Change
    ) -> dict[str, Any]:
        """``_each``, then commit the changed deliveries and wake the stream's long polls."""
        answer, done = self._each(state, entries, dead, change)
        if done:
            await self._queues.tables.change([_row(state, key, d) for key, d in done])
            self._wake(state.settings.stream_arn)
        return answer

    def _each(
        self, state: QueueState, entries: list[dict[str, Any]], dead: bool, change: Change
    ) -> tuple[dict[str, Any], list[tuple[Key, Delivery]]]:
        """Apply ``change`` (in memory) to the delivery of each entry's receipt handle; a
        handle that does not resolve fails its entry only. Returns the answer and what changed."""
        successful, failed, done = [], [], []
        for entry in entries:
            handle = entry["ReceiptHandle"]
            found = self._resolve(state, handle, dead)
            if isinstance(found, tuple) and isinstance(found[0], str):
                code, message = found
                failed.append({"ReceiptHandle": handle, "ErrorCode": code, "ErrorMessage": message})
                continue
            key, d = found
            change(entry, key, d)
            done.append((key, d))
            successful.append({"ReceiptHandle": handle})
        return {"Successful": successful, "Failed": failed}, done

    def _resolve(
        self, state: QueueState, handle: str, dead: bool
    ) -> tuple[Key, Delivery] | tuple[str, str]:
        parts = decode_handle(handle)
        if parts is None:
            return "InvalidArgumentException", f"Invalid ReceiptHandle: {handle}"
        queue_id, shard_uid, position, generation = parts
        if queue_id != state.settings.queue_id:
            return (
                "InvalidArgumentException",
                f"The receipt handle was not issued by queue {state.settings.arn}.",
            )
        key = (shard_uid, position)
        d = state.deliveries.get(key)
        if d is None:
            return "ResourceNotFoundException", _GONE
        if d.generation != generation:
            return "InvalidArgumentException", _RECEIVED_AGAIN
        if d.dead != dead:
            return "InvalidArgumentException", _NOT_DEAD if dead else _IS_DEAD
        return key, d

    # -- metrics ---------------------------------------------------------------------------

    def _moved(
        self, state: QueueState, received: int = 0, acknowledged: int = 0, empty: bool = False
    ) -> None:
        if not self._events.active:
            return
        s = state.settings
        stream = s.stream_arn.rpartition("/")[2]  # the bus prefixes the request's tenant
        self._events.emit(
            QueueRecordsMoved(stream, s.queue_id, s.name, received, acknowledged, int(empty))
        )

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            if self._events.active:
                try:
                    self.sample()
                except Exception:  # keep sampling; one failed sample is a missing point
                    log.exception("queue metrics sample failed")

    def sample(self) -> None:
        """Emit every live queue's record counts (QueueDepth)."""
        queues = self._queues
        now = queues.clock()
        for state in queues.live(now):
            s = state.settings
            stream = queues.stream_of(state)
            in_flight, visible, dead = state.counts(now)
            for shard in stream.shards:
                if visible >= VISIBLE_CAP:
                    break
                cursor = state.cursors.get(shard.uid, s.from_position)
                visible += queues.tables.count_records(shard.uid, cursor, VISIBLE_CAP - visible)
            self._events.emit(
                QueueDepth(  # no request here: the name carries the queue's tenant itself
                    queues.metric_stream(s),
                    s.queue_id,
                    s.name,
                    min(visible, VISIBLE_CAP),
                    in_flight,
                    min(dead, VISIBLE_CAP),
                )
            )

    # -- waiting ---------------------------------------------------------------------------

    def _check_active(self, state: QueueState) -> None:
        status = state.settings.status(self._queues.clock())
        if status not in ("ACTIVE", "UPDATING"):
            raise errors.InvalidArgumentException(
                f"Queue {state.settings.arn} under account {self._queues.account_id} not"
                f" ACTIVE, instead in state {status}"
            )

    async def _wait(self, state: QueueState, left_s: float) -> None:
        """Until records arrive in the stream, a visibility timeout passes, or ``left_s``."""
        # A record timing out becomes visible, or a dead letter: either heap can end the wait.
        deadlines = [heap[0][0] for heap in (state.ready, state.dead_ready) if heap]
        if deadlines:
            due = (min(deadlines) - self._queues.clock()) / 1000
            left_s = min(left_s, max(due, 0.0) + 0.001)
        event = asyncio.Event()
        arn = state.settings.stream_arn
        self._waiters.setdefault(arn, set()).add(event)
        if not self._subscribed:
            self._events.subscribe(self._on_event)
            self._subscribed = True
        try:
            await asyncio.wait_for(event.wait(), left_s)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(arn)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[arn]
            if not self._waiters and self._subscribed:
                self._events.unsubscribe(self._on_event)
                self._subscribed = False

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RecordsIn) and self._waiters:
            for arn in list(self._waiters):
                if arn.rpartition("/")[2] == event.stream:
                    self._wake(arn)

    def _wake(self, stream_arn: str) -> None:
        for waiter in self._waiters.get(stream_arn, ()):
            waiter.set()


def _row(state: QueueState, key: Key, d: Delivery) -> DeliveryRow:
    return DeliveryRow(
        state.settings.uid,
        key[0],
        key[1],
        d.receive_count,
        d.first_receive_ms,
        d.visible_at_ms,
        d.generation,
        d.dead,
    )
