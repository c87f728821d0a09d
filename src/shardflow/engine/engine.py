"""The engine: streams, shards, routing, iterators and records, on top of the store.

Handlers in ``shardflow.api`` call these methods with validated parameters and shape the wire
response; the engine owns the semantics (AWS's rules and messages) and all state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from shardflow import errors
from shardflow.config import Config
from shardflow.delivery.wiring import build_channels
from shardflow.engine import encryption, integrity, routing, tenancy
from shardflow.engine.access import StreamAccess
from shardflow.engine.account import AccountSettings
from shardflow.engine.consumers import Consumers
from shardflow.engine.creation import NewStream, build_stream
from shardflow.engine.encryption import Encryption
from shardflow.engine.events import EventBus
from shardflow.engine.faults import FaultInjector
from shardflow.engine.limits import Limiter
from shardflow.engine.lookup import StreamLookup
from shardflow.engine.metadata import StreamSettings
from shardflow.engine.ondemand import OnDemandScaler, warm_shards
from shardflow.engine.policies import Policies
from shardflow.engine.queue_wiring import build_queues
from shardflow.engine.reads import Reads
from shardflow.engine.registry import StreamRegistry
from shardflow.engine.resharding import Resharder
from shardflow.engine.retention_sweep import RetentionSweep
from shardflow.engine.routing import PutEntry
from shardflow.engine.streams import DEFAULT_MAX_RECORD_KIB, Shard, Stream, doc_json
from shardflow.engine.subscriptions import Subscriptions
from shardflow.engine.tags import Tagger
from shardflow.model import sequence
from shardflow.model.enums import StreamMode, StreamStatus
from shardflow.storage.metadata import MetadataRepository
from shardflow.storage.refusal import damaged
from shardflow.storage.sqlite import MAX_SHARD_UID, NewRecord, SqliteStore

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: Config, store: SqliteStore) -> None:
        self.config = config
        self.store = store
        self.clock = store.clock  # one clock for arrival times, state delays and expiry
        self.metadata = MetadataRepository(store)
        self.access = StreamAccess(
            config.account_id, config.update_stream_ms, self.find, self.persist, self.clock
        )
        self.streams = StreamRegistry(  # by account, region and name, DELETING ones too
            tenancy.tenant_of(config.account_id, config.region, config.account_id, config.region)
        )
        self.lookup = StreamLookup(self.streams)  # names in the request's account and region
        self.iterator_key = b""
        self.faults = FaultInjector(config.faults)
        self.events = EventBus()
        self.limits = Limiter(enabled=not config.no_limits, scale=config.limits_scale)
        self.reads = Reads(  # GetShardIterator, GetRecords, the shared shard read
            account_id=config.account_id,
            store=store,
            limits=self.limits,
            stream_name_of=self.stream_name_of,
            stream_named=self.streams.get,
            iterator_key=lambda: self.iterator_key,
            throttled=self.throttled,
        )
        self.resharder = Resharder(
            self.access,
            self.metadata.apply_reshard,
            self.allocate_shard_uid,
            self.check_shard_limit,
        )
        self.account = AccountSettings(config.account_id, self.metadata.save_setting, self.clock)
        self.consumers = Consumers(
            self.access,
            create_ms=config.create_stream_ms,
            delete_ms=config.delete_stream_ms,
            commitment_in_force=self.account.commitment_in_force,
        )
        self.tags = Tagger(self.access, self.consumers.resource)
        self.subscriptions = Subscriptions(  # SubscribeToShard
            account_id=config.account_id,
            max_duration_s=config.subscription_max_s,
            limits=self.limits,
            events=self.events,
            find_consumer=self.consumers.find,
            stream_named=self.streams.get,
            start_position=self.reads.start_position,
            read_shard=self.reads.read_shard,
        )
        self.policies = Policies(self.access, self.consumers.resource)
        self.encryption = Encryption(self.access)
        self.on_demand = OnDemandScaler(
            account_id=config.account_id,
            window_s=config.on_demand_window_s,
            limits_scale=self.limits.scale,
            events=self.events,
            live_streams=self.every_live_stream,  # a background task: every tenant's streams
            scale=self.resharder.scale,
            check_shard_limit=self.check_shard_limit,
        )
        self.settings = StreamSettings(  # retention, monitoring, capacity
            self.access,
            region=config.region,
            on_demand_stream_limit=config.on_demand_stream_limit,
            live_streams=self.live_streams,
            require_commitment=self.account.require_commitment,
            on_demand=self.on_demand,
        )
        self.retention = RetentionSweep(
            store, self.metadata, self.streams.values, self._purge, self.clock
        )
        self.queues, self.queue_delivery = build_queues(  # Kinesis queues (2026)
            config, store, self.find, self.streams.by_arn, self.consumers, self.events, self.clock
        )
        self.channels = build_channels(  # deliveries to S3 and Iceberg (engine.channels)
            config, store, self.access, self.reads.read_shard, self.streams.by_arn
        )
        self._next_stream_uid = 1
        self._next_shard_uid = 1
        self._sweeper: asyncio.Task[None] | None = None
        self._purger: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load metadata from the store, check that no acknowledged record is missing
        (``engine.integrity``) and start background maintenance.

        Raises ``DataDirError`` (a one-line refusal) on damaged metadata or lost records."""
        try:
            meta, stream_rows, shard_rows = self.store.load()
            self._load(stream_rows, shard_rows)
            integrity.check_at_start(
                self.store, self.streams.values(), self.clock.now_ms(), self.config.accept_data_loss
            )
        except sqlite3.DatabaseError as exc:
            raise damaged(self.store.path, f"SQLite cannot read it ({exc})") from exc
        self.store.start_writing()
        key = meta.get("iterator_key")
        if key is None:
            key = os.urandom(32).hex()
            if self.store.read_only is None:
                await self.metadata.insert_iterator_key(key)
        try:
            self.iterator_key = bytes.fromhex(key)
            self.account.load(meta)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise damaged(self.store.path, f"the meta table is damaged ({exc!r})") from exc
        await self.queues.start()
        self.queue_delivery.start()
        if self.store.read_only is not None:
            return  # no retention sweeps or purges: they would write
        self.channels.start()
        self._sweeper = asyncio.create_task(self.retention.forever())
        self._purger = asyncio.create_task(self.store.purge_forever())
        self.on_demand.start()

    def _load(
        self, stream_rows: list[tuple[int, str]], shard_rows: list[tuple[int, int, str]]
    ) -> None:
        """Rebuild streams and shards from their stored documents (refused if one is damaged)."""
        shards_by_stream: dict[int, list[Shard]] = {}
        what = "shard"
        try:
            for uid, stream_uid, doc in shard_rows:
                what = f"the document of shard uid {uid}"
                shard = Shard.from_doc(orjson.loads(doc))
                shards_by_stream.setdefault(stream_uid, []).append(shard)
                self._next_shard_uid = max(self._next_shard_uid, uid + 1)
            for uid, doc in stream_rows:
                what = f"the document of stream uid {uid}"
                stream = Stream.from_doc(
                    orjson.loads(doc), shards_by_stream.get(uid, []), self.clock
                )
                if not stream.shards:
                    raise ValueError("the stream has no shards")
                self.streams.put(stream)
                self._next_stream_uid = max(self._next_stream_uid, uid + 1)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise damaged(self.store.path, f"{what} is damaged ({detail})") from exc

    async def stop(self) -> None:
        await self.channels.stop()
        await self.on_demand.stop()
        await self.queue_delivery.stop()
        for task in (self._sweeper, self._purger):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- lookups ---------------------------------------------------------------------------

    def stream_name_of(self, params: dict[str, Any]) -> str:
        """The stream a request names by StreamName or StreamARN (AWS checks they agree)."""
        return self.lookup.stream_name_of(params)

    def find(self, params: dict[str, Any], *, active_only: bool = False) -> Stream:
        """The stream a request names, in its account and region, or AWS's error."""
        return self.lookup.find(params, active_only=active_only)

    def live_streams(self) -> list[Stream]:
        """The current tenant's streams in name order, DELETING ones included."""
        at = self.clock.now_ms()
        return [s for s in self.streams.in_scope() if not s.is_gone(at)]

    def stream_page(self, after: str | None, limit: int) -> tuple[list[Stream], bool]:
        """ListStreams: up to ``limit`` live streams named after ``after``; whether more follow."""
        return self.streams.page(after, limit, self.clock.now_ms())

    def every_live_stream(self) -> list[Stream]:
        at = self.clock.now_ms()
        return [s for s in self.streams.values() if not s.is_gone(at)]

    def open_shard_total(self) -> int:
        return sum(s.open_shard_count for s in self.live_streams())

    # -- control plane ---------------------------------------------------------------------

    async def create_stream(
        self,
        name: str,
        shard_count: int | None,
        mode: str,
        tags: dict[str, str],
        max_record_kib: int = DEFAULT_MAX_RECORD_KIB,
        warm_throughput_mibps: int | None = None,
        record_distribution: str | None = None,
        delay_ms: int | None = None,
    ) -> None:
        """A new stream, CREATING for ``delay_ms`` (default: the configured delay)."""
        if mode == StreamMode.ON_DEMAND:
            if shard_count is not None:
                raise errors.InvalidArgumentException(
                    "ShardCount must not be specified for streams with ON_DEMAND capacity mode."
                )
            shard_count = warm_shards(warm_throughput_mibps or 0)
        elif shard_count is None:
            raise errors.InvalidArgumentException(
                "ShardCount must be specified for streams with PROVISIONED capacity mode."
            )
        existing = self.streams.get(name)
        if existing is not None and not existing.is_gone():
            raise errors.ResourceInUseException(
                f"Stream {name} under account {self.lookup.account()} already exists."
            )
        self.check_shard_limit(shard_count)
        if mode == StreamMode.ON_DEMAND:
            on_demand = sum(1 for s in self.live_streams() if s.mode == StreamMode.ON_DEMAND)
            if on_demand >= self.config.on_demand_stream_limit:
                raise errors.LimitExceededException(
                    f"This request would exceed the on-demand stream limit for the account"
                    f" {self.lookup.account()} in {self.lookup.region()}. Current on-demand"
                    f" stream count for the account: {on_demand}. Limit:"
                    f" {self.config.on_demand_stream_limit}."
                )
        uid = self._next_stream_uid
        self._next_stream_uid += 1
        spec = NewStream(
            name, shard_count, mode, tags, max_record_kib, warm_throughput_mibps,
            record_distribution,
        )  # fmt: skip
        stream = build_stream(
            spec,
            uid=uid,
            region=self.lookup.region(),
            account=self.lookup.account(),
            delay_ms=self.config.create_stream_ms if delay_ms is None else delay_ms,
            position=self.store.position,
            allocate_shard_uid=self.allocate_shard_uid,
            clock=self.clock,
        )
        previous = self.streams.put(stream)  # visible at once: a second CreateStream must fail
        try:
            await self.metadata.insert_stream(
                (uid, doc_json(stream)), [(s.uid, doc_json(s)) for s in stream.shards]
            )
        except BaseException:
            self.streams.restore(stream, previous)
            raise
        if previous is not None:
            # A deleted stream of the same name, gone but not swept yet: the sweep visits only
            # the registry, which no longer holds it, so its rows and records go now.
            await self._purge(previous)

    def allocate_shard_uid(self) -> int:
        uid = self._next_shard_uid
        if uid > MAX_SHARD_UID:
            raise errors.LimitExceededException("This server has allocated its last shard id.")
        self._next_shard_uid += 1
        return uid

    def check_shard_limit(self, additional: int) -> None:
        current = self.open_shard_total()
        if current + additional > self.config.shard_limit:
            raise errors.LimitExceededException(
                f"This request would exceed the shard limit for the account"
                f" {self.lookup.account()} in {self.lookup.region()}. Current shard count for"
                f" the account: {current}. Limit: {self.config.shard_limit}. Number of"
                f" additional shards that would have resulted from this request: {additional}."
                f" Refer to the AWS Service Limits page"
                f" (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html)"
                f" for current limits and how to request higher limits."
            )

    async def delete_stream(self, params: dict[str, Any]) -> None:
        stream = self.find(params)
        status = stream.current_status()
        if status == StreamStatus.DELETING:
            return  # AWS accepts a repeated DeleteStream while it is being deleted
        self.consumers.check_deletable(stream, params)
        self.channels.check_stream_deletable(stream)
        delete_at = self.clock.now_ms() + self.config.delete_stream_ms
        stream.delete_at_ms = delete_at
        await self.persist([stream])
        if self.config.delete_stream_ms == 0:
            await self._purge(stream)

    async def drop_all_streams(self) -> int:
        """Forget every stream at once, with its shards, consumers, tags and policy (a test's
        reset: no DELETING state, no consumer check); returns how many there were."""
        await self.channels.drop_all()  # a fresh server has no channels either
        streams = list(self.streams.values())
        await self.queues.drop_all()
        # Concurrent purges share the store's group commit: one transaction for them all.
        await asyncio.gather(*(self._purge(stream) for stream in streams))
        self.limits.reset()
        return sum(1 for s in streams if not s.is_gone())

    async def _purge(self, stream: Stream) -> None:
        """Forget a deleted stream; its records are deleted in the background."""
        self.streams.discard(stream)
        for shard in stream.shards:
            self.limits.forget(shard.uid)
        self.store.forget_shards([shard.uid for shard in stream.shards])
        await self.metadata.delete_stream(stream.uid, [shard.uid for shard in stream.shards])
        self.store.wake_purger()

    # -- data plane ------------------------------------------------------------------------

    check_record_size = staticmethod(routing.check_record_size)
    route = staticmethod(routing.route)
    check_route = staticmethod(routing.check_route)

    def throttled(self, stream: Stream, shard: Shard) -> errors.KinesisError:
        """AWS's error for a shard over its throughput limit."""
        return errors.ProvisionedThroughputExceededException(
            f"Rate exceeded for shard {shard.shard_id} in stream {stream.name} under account"
            f" {self.lookup.account()}."
        )

    async def put(
        self, stream: Stream, shards: list[Shard], entries: list[PutEntry]
    ) -> tuple[list[str], str]:
        """Store routed entries; after the commit, their sequence numbers and the EncryptionType
        they were written with (the records of one call share their arrival time)."""
        placed = await self.store.append(
            [
                NewRecord(s.uid, e.partition_key, e.data)
                for s, e in zip(shards, entries, strict=True)
            ]
        )
        arrival = placed[-1][1] if placed else self.clock.now_ms()
        return [
            sequence.encode(shard.index, position)
            for shard, (position, _arrival) in zip(shards, placed, strict=True)
        ], encryption.record_encryption(stream, arrival)

    # -- maintenance -----------------------------------------------------------------------

    async def sweep(self) -> None:
        """Finish deletions whose delay passed and drop records past their retention."""
        await self.retention.sweep()

    async def persist(self, streams: Iterable[Stream]) -> None:
        """Store the documents of streams whose settings changed, in one transaction."""
        await self.metadata.update_streams([(s.uid, doc_json(s)) for s in streams])
