"""The consumer's coordination: list shards, one lease round (renew, drop lost leases, take
ready ones), the lease writes that raise the counter, and checkpoint flushes.

A base of ``AsyncConsumer`` (consumer.py), which owns the state declared here and the plumbing
it calls (``_api``, ``_db``, readers); split from it to keep each module readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shardflow.consumer import leases as lease_plan
from shardflow.consumer import shards as shard_graph
from shardflow.consumer.config import ConsumerConfig
from shardflow.consumer.errors import ConsumerError, translate
from shardflow.consumer.expiry import LeaseExpiry
from shardflow.consumer.records import Batch
from shardflow.consumer.shard_state import ShardState, Stop
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.store import CheckpointStore, Lease
from shardflow.model.distribution import AUTO, record_distribution

log = logging.getLogger("shardflow.consumer")


class LeaseCoordination:
    """Coordination rounds and lease writes over the state ``AsyncConsumer`` keeps."""

    config: ConsumerConfig
    stream: str
    scope: str
    endpoint: str | None
    shards: list[ShardInfo]
    record_distribution: str
    _auto_shards: set[str]
    _distribution_read: float
    _states: dict[str, ShardState]
    _expiry: LeaseExpiry
    _caught_up: set[str]
    _queue: asyncio.Queue[tuple[ShardState, Batch] | Stop]
    _wake: asyncio.Event
    _stopped: bool

    if TYPE_CHECKING:  # AsyncConsumer's plumbing

        @property
        def store(self) -> CheckpointStore: ...

        async def _api(self, operation: str, **params: Any) -> dict[str, Any]: ...

        async def _db(self, fn: Callable[..., Any], *args: Any) -> Any: ...

        async def _startup_call(self, operation: str, **params: Any) -> dict[str, Any]: ...

        def _start_reader(self, lease: Lease) -> None: ...

        def _fail(self, exc: BaseException) -> None: ...

        def _lose(self, shard_id: str, why: str) -> None: ...

    async def _list_shards(self, *, startup: bool = False) -> list[ShardInfo]:
        call = self._startup_call if startup else self._api
        out: list[dict[str, Any]] = []
        page = await call("list_shards", StreamName=self.stream)
        out += page["Shards"]
        while page.get("NextToken"):
            page = await call("list_shards", NextToken=page["NextToken"])
            out += page["Shards"]
        shards = [ShardInfo.from_api(s) for s in out]
        if self.config.shard_ids is not None:
            wanted = set(self.config.shard_ids)
            missing = wanted - {s.shard_id for s in shards}
            if missing:
                raise ConsumerError(
                    f"stream {self.stream!r} has no shard {', '.join(sorted(missing))}"
                )
            shards = [replace(s, parents=()) for s in shards if s.shard_id in wanted]
        return shards

    async def _coordinate(self) -> None:
        while not self._stopped:
            # asyncio.timeout, not wait_for: wait_for may swallow a cancel (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.renew_interval):
                    await self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            try:
                known = {s.shard_id for s in self.shards}
                self.shards = await self._list_shards()
                if {s.shard_id for s in self.shards} != known or (
                    time.monotonic() - self._distribution_read >= self.config.strategy_refresh
                ):
                    await self._read_distribution()
            except Exception as exc:
                err = translate(exc, stream=self.stream, endpoint=self.endpoint)
                if not err.retriable:
                    self._fail(err)
                    return
                log.warning("listing shards failed: %s", err)
            try:
                await self._round()
            except Exception as exc:
                log.warning("lease round failed: %s", exc)

    async def _read_distribution(self) -> None:
        """Read the stream's RecordDistributionStrategy again (after a reshard, and every
        ``strategy_refresh`` seconds); a failure keeps the one known."""
        self._distribution_read = time.monotonic()
        try:
            summary = await self._api("describe_stream_summary", StreamName=self.stream)
        except Exception as exc:
            log.warning("DescribeStreamSummary failed: %s", exc)
            return
        self._set_distribution(record_distribution(summary["StreamDescriptionSummary"]))

    def _set_distribution(self, strategy: str) -> None:
        if strategy != self.record_distribution:
            log.info("%s: RecordDistributionStrategy %s", self.stream, strategy)
        self.record_distribution = strategy
        if strategy != AUTO:
            return
        self._auto_shards.update(s.shard_id for s in self.shards)
        for state in self._states.values():
            if state.reader is not None:
                state.reader.hash_range = None  # from its next page on

    def _by_key(self, shard: ShardInfo) -> bool:
        """Whether the shard's records were placed by their keys, as far as this worker saw."""
        return self.record_distribution != AUTO and shard.shard_id not in self._auto_shards

    async def _round(self) -> None:
        """One coordination round: renew, drop lost leases, take new ones, maybe finish."""
        me, config = self.config.worker_id, self.config
        for shard_id, state in list(self._states.items()):
            # Others may take a lease this worker could not renew for this long: stop first.
            if time.monotonic() - state.renewed >= config.lease_duration:
                self._lose(shard_id, "not renewed within the lease duration")
        await self._db(self.store.sync_shards, self.scope, self.shards)
        rows = {lease.shard_id: lease for lease in await self._db(self.store.leases, self.scope)}
        self._expiry.observe(rows.values())
        for shard_id, state in list(self._states.items()):
            try:
                renewed = await self._owner_write(state, self.store.renew)
            except Exception as exc:
                log.warning("%s: renewing %s failed: %s", me, shard_id, exc)
                continue
            if renewed is None and not state.lost:
                self._lose(shard_id, "renewal refused")
        finished = {s for s, lease in rows.items() if lease.finished}
        known = {s.shard_id for s in self.shards}
        ready = [s for s in shard_graph.ready(self.shards, finished) if s not in self._caught_up]
        choice = lease_plan.plan(
            [lease for s, lease in rows.items() if s in known],
            ready,
            me,
            self._expiry.held,
            config.max_leases,
        )
        for lease in [*choice.take, *([choice.steal] if choice.steal else [])]:
            if lease.shard_id in self._states:
                continue
            taken = await self._db(self.store.take, self.scope, lease, me)
            if taken is not None:
                if lease.owner not in (None, me):
                    why = "stolen" if self._expiry.held(lease) else "expired"
                    log.info("%s: took %s from %s (%s)", me, lease.shard_id, lease.owner, why)
                self._start_reader(taken)
        if config.stop_at_tip and not any(
            s.task is not None and not s.task.done() for s in self._states.values()
        ):
            remaining = [s for s in ready if s not in self._states]
            if not remaining:
                self._queue.put_nowait(Stop())

    async def _owner_write(
        self, state: ShardState, write: Callable[..., int | None], *args: Any
    ) -> int | None:
        """One conditional write of this worker's lease; the new counter, or None if refused."""
        async with state.writing:
            if state.lost:
                return None
            sent = time.monotonic()
            counter = await self._db(
                write,
                self.scope,
                state.lease.shard_id,
                self.config.worker_id,
                state.lease.counter,
                *args,
            )
            if counter is not None:
                state.lease = replace(state.lease, counter=counter)
                state.renewed = sent  # any accepted write proves the lease is still ours
            return counter

    async def _release(self, state: ShardState) -> None:
        async with state.writing:
            if not state.lost:
                await self._db(
                    self.store.release,
                    self.scope,
                    state.lease.shard_id,
                    self.config.worker_id,
                    state.lease.counter,
                )

    async def _flush_loop(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self.config.checkpoint_interval)
            try:
                await self._flush()
            except Exception as exc:
                log.warning("checkpointing failed: %s", exc)

    async def _flush(self) -> None:
        for state in list(self._states.values()):
            await self._flush_one(state)

    async def _flush_one(self, state: ShardState) -> None:
        position = state.processed
        if state.lost or position is None or position == state.checkpointed:
            return
        if await self._owner_write(state, self.store.checkpoint, position) is not None:
            state.checkpointed = position
        elif not state.lost:
            self._lose(state.lease.shard_id, "checkpoint refused")
