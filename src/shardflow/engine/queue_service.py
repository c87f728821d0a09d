"""Kinesis queues, control plane: CreateQueue, DescribeQueue, ListQueues, UpdateQueue,
DeleteQueue, queue tags, and the stream-side rules (QueueCount, the registered-consumer limit
shared with fan-out consumers, no DeleteStream or switch to PROVISIONED while queues exist).

Given only what it needs (stream lookup, the queue tables, the record store's positions, a
clock), never the ``Engine``. Delivery lives in ``queue_delivery``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shardflow import errors
from shardflow.engine import tenancy
from shardflow.engine.access import FindStream
from shardflow.engine.consumers import check_room
from shardflow.engine.lookup import access_denied
from shardflow.engine.queue_model import (
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_VISIBILITY_S,
    Delivery,
    QueueSettings,
    QueueState,
    apply_attributes,
)
from shardflow.engine.queue_start import checked_start, queue_description, starting_point
from shardflow.engine.streams import Stream
from shardflow.engine.tags import check_tag_keys, check_tags, tag_list
from shardflow.model.shard_ids import parse_stream_arn, queue_arn
from shardflow.storage.queue_store import QueueStore
from shardflow.storage.refusal import damaged
from shardflow.storage.sqlite import SqliteStore

MAX_TRANSITIONING = 5  # AWS: queues CREATING or DELETING at once per account and Region
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def is_queue_arn(arn: str) -> bool:
    return ":queue/" in arn


@dataclass(frozen=True, slots=True)
class QueueTimings:
    create_ms: int  # CREATING lasts this long
    delete_ms: int  # DELETING lasts this long
    update_ms: int  # UPDATING lasts this long


class Queues:
    """Every queue of the account, by uid; the registry the delivery side reads too."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        find_stream: FindStream,
        stream_at: Callable[[str], Stream | None],
        store: SqliteStore,
        timings: QueueTimings,
        consumer_count: Callable[[Stream], int],
        consumer_limit: Callable[[Stream], int],
        clock: Callable[[], int],
    ) -> None:
        self._default_account = account_id
        self._default_region = region
        self._find_stream = find_stream
        self._stream_at = stream_at
        self.records = store
        self.tables = QueueStore(store)
        self._timings = timings
        self._consumer_count = consumer_count
        self._consumer_limit = consumer_limit
        self.clock = clock
        self.states: dict[int, QueueState] = {}
        self._next_uid = 1

    @property
    def account_id(self) -> str:
        """The account the current request acts in (the server's outside a request)."""
        return tenancy.account_or(self._default_account)

    def metric_stream(self, settings: QueueSettings) -> str:
        """The queue's stream as the metrics name it: prefixed by its tenant (engine.tenancy)."""
        region, account, name = parse_stream_arn(settings.stream_arn) or ("", "", "")
        home = tenancy.tenant_of(account, region, self._default_account, self._default_region)
        return home.prefix + name

    def _here(self) -> tuple[str, str]:
        """(region, account) the current request acts in: where its queue names resolve."""
        who = tenancy.caller()
        if who is None:
            return self._default_region, self._default_account
        return who.tenant.region, who.tenant.account

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every queue with its delivery state, and create the tables if needed.

        Raises ``DataDirError`` (a one-line refusal) if the queue tables cannot be read."""
        try:
            loaded = self.tables.load()
            settings = [(uid, QueueSettings.from_doc(doc)) for uid, doc in loaded.docs]
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as exc:
            raise damaged(self.records.path, f"the queue tables are damaged ({exc})") from exc
        await self.tables.create_tables()
        for uid, queue in settings:
            self.states[uid] = QueueState(queue)
            self._next_uid = max(self._next_uid, uid + 1)
        for queue_uid, shard_uid, position in loaded.cursors:
            state = self.states.get(queue_uid)
            if state is not None:
                state.cursors[shard_uid] = position
        for row in loaded.deliveries:
            state = self.states.get(row.queue_uid)
            if state is None:
                continue
            key = (row.shard_uid, row.position)
            delivery = Delivery(
                row.receive_count, row.first_receive_ms, row.visible_at_ms, row.generation, row.dead
            )
            state.deliveries[key] = delivery
            state.live_count += not delivery.dead
            state.schedule(key, delivery)
            state.next_generation = max(state.next_generation, row.generation + 1)

    async def drop_all(self) -> None:
        """Forget every queue (a test's reset of the whole server)."""
        for uid in list(self.states):
            await self.tables.delete_queue(uid, keep_doc=False)
        self.states.clear()

    # -- operations ------------------------------------------------------------------------

    async def create(self, params: dict[str, Any]) -> dict[str, Any]:
        configs = params["StreamConfigurationList"]
        if len(configs) != 1:
            raise errors.InvalidArgumentException(
                "StreamConfigurationList must contain exactly one entry: a queue delivers"
                " records from a single data stream."
            )
        config = configs[0]
        start_type, timestamp = checked_start(config.get("StartingPosition"))
        visibility, dead_letters, max_receive = apply_attributes(
            params.get("QueueAttributes") or {},
            DEFAULT_VISIBILITY_S,
            True,
            DEFAULT_MAX_RECEIVE_COUNT,
        )
        stream = self._find_stream({"StreamARN": config["StreamARN"]})
        status = stream.current_status()
        if status not in ("ACTIVE", "UPDATING"):
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {self.account_id} not ACTIVE, instead in"
                f" state {status}"
            )
        if stream.mode != "ON_DEMAND":
            raise errors.InvalidArgumentException(
                "Queues are supported only on data streams in on-demand capacity mode. Stream"
                f" {stream.name} under account {self.account_id} is PROVISIONED."
            )
        name = params["QueueName"]
        now = self.clock()
        live = self.in_scope(now)  # the stream's account and region (find acted in its home)
        if any(s.settings.name == name for s in live):
            raise errors.ResourceInUseException(
                f"Queue {name} under account {self.account_id} already exists."
            )
        registered = self._consumer_count(stream) + self.count(stream)
        check_room(stream, self.account_id, registered, self._consumer_limit(stream))
        transitioning = sum(1 for s in live if s.settings.status(now) in ("CREATING", "DELETING"))
        if transitioning >= MAX_TRANSITIONING:
            raise errors.LimitExceededException(
                f"Account {self.account_id} already has {transitioning} queues in CREATING or"
                f" DELETING state, the limit is {MAX_TRANSITIONING}."
            )
        tags = params.get("Tags") or {}
        if tags:
            check_tags(tags, {}, f"queue {name}", self.account_id)
        from_position, effective_ms, cursors = starting_point(
            self.records, stream, start_type, timestamp, now
        )
        uid = self._next_uid
        self._next_uid += 1
        queue_id = "".join(_ID_ALPHABET[b % 36] for b in os.urandom(20))
        settings = QueueSettings(
            uid=uid,
            queue_id=queue_id,
            name=name,
            arn=queue_arn(*self._here(), queue_id),
            stream_arn=stream.arn,
            stream_uid=stream.uid,
            stream_created_ms=stream.created_ms,
            start_type=start_type,
            start_timestamp_ms=None if timestamp is None else int(float(timestamp) * 1000),
            effective_start_ms=effective_ms,
            from_position=from_position,
            visibility_s=visibility,
            dead_letters=dead_letters,
            max_receive_count=max_receive,
            created_ms=now,
            ready_at_ms=now + self._timings.create_ms,
            tags=dict(tags),
        )
        state = QueueState(settings, cursors=dict(cursors))
        self.states[uid] = state
        try:
            await self.tables.save_queue(uid, settings.doc())
            if cursors:
                await self.tables.save_cursors((uid, s, p) for s, p in cursors.items())
        except BaseException:
            self.states.pop(uid, None)
            raise
        return {"QueueDescription": queue_description(state.settings, "CREATING")}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"QueueDescription": self._describe(self.lookup(params["QueueARN"]))}

    def listing(self, params: dict[str, Any]) -> list[QueueState]:
        """ListQueues' queues in creation order, filtered by StreamFilter (the handler pages)."""
        now = self.clock()
        queues = self.in_scope(now)
        filters = params.get("StreamFilter")
        if filters:
            wanted = []
            for f in filters:
                created = f.get("StreamCreationTimestamp")
                wanted.append((f["StreamARN"], None if created is None else int(float(created))))
            queues = [
                q
                for q in queues
                if any(
                    arn == q.settings.stream_arn
                    and (sec is None or sec == q.settings.stream_created_ms // 1000)
                    for arn, sec in wanted
                )
            ]
        return queues

    def _describe(self, state: QueueState) -> dict[str, Any]:
        return queue_description(state.settings, state.settings.status(self.clock()))

    def summary(self, state: QueueState) -> dict[str, Any]:
        s = state.settings
        return {
            "QueueName": s.name,
            "QueueARN": s.arn,
            "QueueStatus": s.status(self.clock()),
            "QueueCreationTimestamp": s.created_ms / 1000,
            "Streams": [
                {"StreamARN": s.stream_arn, "StreamCreationTimestamp": s.stream_created_ms / 1000}
            ],
        }

    async def update(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.lookup(params["QueueARN"])
        s = state.settings
        now = self.clock()
        status = s.status(now)
        if status not in ("ACTIVE", "UPDATING"):
            raise errors.ResourceInUseException(
                f"Queue {s.arn} under account {self.account_id} not ACTIVE, instead in state"
                f" {status}"
            )
        visibility, dead_letters, max_receive = apply_attributes(
            params["QueueAttributes"], s.visibility_s, s.dead_letters, s.max_receive_count
        )
        before = (s.visibility_s, s.dead_letters, s.max_receive_count, s.updating_until_ms)
        s.visibility_s, s.dead_letters, s.max_receive_count = visibility, dead_letters, max_receive
        s.updating_until_ms = now + self._timings.update_ms
        try:
            await self.tables.save_queue(s.uid, s.doc())
        except BaseException:
            s.visibility_s, s.dead_letters, s.max_receive_count, s.updating_until_ms = before
            raise
        return {"QueueDescription": self._describe(state)}

    async def delete(self, params: dict[str, Any]) -> None:
        state = self.lookup(params["QueueARN"])
        s = state.settings
        if s.delete_at_ms is not None:
            return  # already being deleted
        now = self.clock()
        delay = self._timings.delete_ms
        # In-flight records are not delivered again and every receipt handle stops working.
        state.clear()
        if delay:
            s.delete_at_ms = now + delay
            await self.tables.save_queue(s.uid, s.doc())
            await self.tables.delete_queue(s.uid, keep_doc=True)
        else:
            self.states.pop(s.uid, None)
            await self.tables.delete_queue(s.uid, keep_doc=False)

    # -- tags ------------------------------------------------------------------------------

    async def tag(self, params: dict[str, Any]) -> None:
        state = self.lookup(params["ResourceARN"], resource=True)
        s = state.settings
        check_tags(params["Tags"], s.tags, f"queue {s.arn}", self.account_id)
        s.tags.update(params["Tags"])
        await self.tables.save_queue(s.uid, s.doc())

    async def untag(self, params: dict[str, Any]) -> None:
        state = self.lookup(params["ResourceARN"], resource=True)
        s = state.settings
        check_tag_keys(params["TagKeys"], f"queue {s.arn}", self.account_id)
        for key in params["TagKeys"]:
            s.tags.pop(key, None)
        await self.tables.save_queue(s.uid, s.doc())

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": tag_list(self.lookup(params["ResourceARN"], resource=True).settings.tags)}

    # -- the stream's side -----------------------------------------------------------------

    def count(self, stream: Stream) -> int:
        """Queues on the stream (DescribeStreamSummary's QueueCount; registered consumers)."""
        return sum(1 for q in self.live(self.clock()) if q.settings.stream_uid == stream.uid)

    def check_stream_change(self, params: dict[str, Any], change: str) -> None:
        """DeleteStream and UpdateStreamMode to PROVISIONED are refused while queues exist."""
        stream = self._find_stream(params)
        queues = self.count(stream)
        if not queues:
            return
        raise errors.ResourceInUseException(
            f"{change} can't change stream {stream.name} under account {self.account_id}"
            f" because it has {queues} queue(s). Delete its queues first."
        )

    # -- lookups ---------------------------------------------------------------------------

    def live(self, now: int) -> list[QueueState]:
        return [state for state in list(self.states.values()) if self._alive(state, now)]

    def in_scope(self, now: int) -> list[QueueState]:
        """The live queues of the account and region the current request acts in."""
        region, account = self._here()
        home = f":{region}:{account}:queue/"
        return [state for state in self.live(now) if home in state.settings.arn]

    def _alive(self, state: QueueState, now: int) -> bool:
        """Not deleted (forgotten once its DELETING time is over) and its stream exists."""
        if state.settings.gone(now):
            del self.states[state.settings.uid]
            self.tables.delete_queue(state.settings.uid, keep_doc=False)
            return False
        return self._stream_of(state) is not None

    def lookup(self, arn: str, *, resource: bool = False) -> QueueState:
        """The queue ``arn`` names; the rest of the request acts in the queue's account and
        region. A caller of another account is refused: queues take no resource policy."""
        now = self.clock()
        for state in list(self.states.values()):
            if state.settings.arn == arn:
                if self._alive(state, now):
                    self._enter_home(state)
                    return state
                break
        if resource:
            raise errors.ResourceNotFoundException(
                f"Resource {arn} under account {self.account_id} not found."
            )
        raise errors.ResourceNotFoundException(
            f"Queue {arn} under account {self.account_id} not found."
        )

    def _enter_home(self, state: QueueState) -> None:
        _, _, _, region, account, _ = state.settings.arn.split(":", 5)
        who = tenancy.caller()
        caller_account = self._default_account if who is None else who.account
        tenancy.act_in(
            tenancy.tenant_of(account, region, self._default_account, self._default_region)
        )
        if account != caller_account:
            operation = who.operation if who is not None else ""
            raise access_denied(caller_account, operation, state.settings.arn)

    def stream_of(self, state: QueueState) -> Stream:
        stream = self._stream_of(state)
        if stream is None:
            raise errors.ResourceNotFoundException(
                f"Queue {state.settings.arn} under account {self.account_id} not found."
            )
        return stream

    def _stream_of(self, state: QueueState) -> Stream | None:
        stream = self._stream_at(state.settings.stream_arn)
        if stream is None or stream.is_gone():
            return None
        return stream if stream.uid == state.settings.stream_uid else None
