"""Stream settings: retention, enhanced monitoring, capacity mode, record size, warm throughput
and record distribution, with AWS's rules and messages (encryption and resource policies have
modules of their own, built on the helpers here).

Every change is made in memory and then stored with the stream's document; if storing fails the
stream is put back as it was. Changes that AWS applies asynchronously leave the stream UPDATING
for ``config.update_stream_ms`` (default 0: ACTIVE again at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shardflow import errors
from shardflow.engine.ondemand import current_mibps
from shardflow.engine.streams import Stream
from shardflow.model.enums import RecordDistribution, StreamMode

if TYPE_CHECKING:
    from shardflow.engine.access import StreamAccess
    from shardflow.engine.ondemand import OnDemandScaler

MIN_RETENTION_HOURS = 24  # AWS: a stream keeps records at least a day
MAX_RETENTION_HOURS = 8760  # AWS: at most 365 days (long-term retention)
MAX_MODE_SWITCHES_PER_DAY = 2  # AWS: capacity mode can change twice per rolling 24 hours
DAY_MS = 86_400_000
USER_KEY = RecordDistribution.USER_PARTITION_KEY  # the default strategy
# AWS's wording (docs: "a message similar to"); the stream clause follows it.
AUTO_NEEDS_ON_DEMAND = "RecordDistributionStrategy=AUTO is only supported for on-demand streams."
WARM_NEEDS_ON_DEMAND = (
    "WarmThroughputMiBps can only be specified for streams with ON_DEMAND capacity mode."
)
# The shard-level metrics of EnableEnhancedMonitoring, in the order AWS documents them; ALL is
# shorthand for every one.
SHARD_LEVEL_METRICS = (
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
)


class StreamSettings:
    """Retention, enhanced monitoring, capacity mode, record size, warm throughput and record
    distribution. ON_DEMAND capacity goes through the scaler; warm throughput needs the
    account's commitment (``require_commitment``)."""

    def __init__(
        self,
        access: StreamAccess,
        *,
        region: str,
        on_demand_stream_limit: int,
        live_streams: Callable[[], list[Stream]],
        require_commitment: Callable[[], None],
        on_demand: OnDemandScaler,
    ) -> None:
        self._access = access
        self._region = region
        self._on_demand_stream_limit = on_demand_stream_limit
        self._live_streams = live_streams
        self._require_commitment = require_commitment
        self._on_demand = on_demand

    @property
    def _account(self) -> str:
        return self._access.account_id

    # -- retention -------------------------------------------------------------------------

    async def change_retention(self, params: dict[str, Any], *, increase: bool) -> None:
        """AWS (as kinesalite's recorded tests show) checks the direction before the stream's
        state, and a request for the current value changes nothing: no UPDATING."""
        stream = self._access.find(params)
        hours = int(params["RetentionPeriodHours"])
        if hours < MIN_RETENTION_HOURS:
            raise errors.InvalidArgumentException(
                f"Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested"
                f" retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION_HOURS:
            raise errors.InvalidArgumentException(
                f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested"
                f" retention period ({hours} hours) is too long."
            )
        current = stream.retention_hours
        if increase and hours < current:
            raise errors.InvalidArgumentException(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be"
                f" shorter than existing retention period ({current} hours). Use"
                " DecreaseRetentionPeriod API."
            )
        if not increase and hours > current:
            raise errors.InvalidArgumentException(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be"
                f" longer than existing retention period ({current} hours). Use"
                " IncreaseRetentionPeriod API."
            )
        if hours == current:
            return
        self._access.active_stream(params)

        def change() -> None:
            stream.retention_hours = hours
            self._access.begin_update(stream)

        await self._access.commit(stream, change)

    # -- enhanced monitoring ---------------------------------------------------------------

    async def set_monitoring(self, params: dict[str, Any], *, enable: bool) -> dict[str, Any]:
        stream = self._access.active_stream(params)
        requested = set(params["ShardLevelMetrics"])
        named = set(SHARD_LEVEL_METRICS) if "ALL" in requested else requested
        current = list(stream.shard_level_metrics)
        chosen = set(current) | named if enable else set(current) - named
        desired = [m for m in SHARD_LEVEL_METRICS if m in chosen]

        def change() -> None:
            stream.shard_level_metrics = desired
            self._access.begin_update(stream)

        await self._access.commit(stream, change)
        return {
            "StreamName": stream.name,
            "CurrentShardLevelMetrics": current,
            "DesiredShardLevelMetrics": desired,
            "StreamARN": stream.arn,
        }

    # -- capacity --------------------------------------------------------------------------

    async def update_mode(self, params: dict[str, Any]) -> None:
        stream = self._access.active_stream(params)
        mode = params["StreamModeDetails"]["StreamMode"]
        warm = params.get("WarmThroughputMiBps")
        if mode == stream.mode and warm is None:
            return  # nothing to change
        now = self._access.now_ms()
        recent = [t for t in stream.mode_switches_ms if now - t < DAY_MS]
        if mode != stream.mode:
            if len(recent) >= MAX_MODE_SWITCHES_PER_DAY:
                raise errors.LimitExceededException(
                    f"Stream {stream.name} under account {self._account} has already switched"
                    f" capacity mode {MAX_MODE_SWITCHES_PER_DAY} times in the last 24 hours."
                    " Try again later."
                )
            if mode == StreamMode.ON_DEMAND:
                self.check_on_demand_limit()
        if warm is not None and mode != StreamMode.ON_DEMAND:
            raise errors.InvalidArgumentException(WARM_NEEDS_ON_DEMAND)
        if mode == StreamMode.PROVISIONED and stream.record_distribution == RecordDistribution.AUTO:
            # AUTO exists only on ON_DEMAND streams; producers relying on it would break silently.
            raise errors.InvalidArgumentException(
                f"{AUTO_NEEDS_ON_DEMAND} Stream {stream.name} uses it: set"
                " RecordDistributionStrategy to USER_PARTITION_KEY before switching it to"
                " PROVISIONED mode."
            )
        target_shards = None
        if warm is not None:
            self._require_commitment()
            target_shards = self._on_demand.check_warm_throughput(
                stream.name, warm, stream.open_shard_count
            )
        release = _releases(stream, warm) if mode == stream.mode else False

        def change() -> None:
            if mode != stream.mode:
                stream.mode_switches_ms = [*recent, now]
                stream.mode = mode
            if mode == StreamMode.PROVISIONED:
                stream.warm_throughput_mibps = None
            elif warm is not None:
                stream.warm_throughput_mibps = warm
            self._access.begin_update(stream)

        await self._access.commit(stream, change)
        if target_shards is not None:
            await self._on_demand.warm(stream, target_shards, release=release)

    def check_on_demand_limit(self) -> None:
        limit = self._on_demand_stream_limit
        on_demand = sum(1 for s in self._live_streams() if s.mode == StreamMode.ON_DEMAND)
        if on_demand >= limit:
            raise errors.LimitExceededException(
                f"This request would exceed the on-demand stream limit for the account"
                f" {self._account} in {self._region}. Current on-demand stream count for"
                f" the account: {on_demand}. Limit: {limit}."
            )

    async def update_max_record_size(self, params: dict[str, Any]) -> None:
        stream = self._access.active_stream(params)
        size = int(params["MaxRecordSizeInKiB"])

        def change() -> None:
            stream.max_record_kib = size
            self._access.begin_update(stream)

        await self._access.commit(stream, change)

    async def update_warm_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._access.active_stream(params)
        self._require_commitment()
        if stream.mode != StreamMode.ON_DEMAND:
            raise errors.InvalidArgumentException(
                f"Warm throughput can only be updated for streams with ON_DEMAND capacity mode."
                f" Stream {stream.name} under account {self._account} is PROVISIONED."
            )
        target = int(params["WarmThroughputMiBps"])
        target_shards = self._on_demand.check_warm_throughput(
            stream.name, target, stream.open_shard_count
        )
        release = _releases(stream, target)

        def change() -> None:
            stream.warm_throughput_mibps = target
            self._access.begin_update(stream)

        await self._access.commit(stream, change)
        await self._on_demand.warm(stream, target_shards, release=release)
        return {
            "StreamARN": stream.arn,
            "StreamName": stream.name,
            "WarmThroughput": warm_throughput(stream),
        }

    def check_warm_throughput_for_new_stream(self, name: str, warm: int) -> None:
        """CreateStream's WarmThroughputMiBps against the account: AWS's refusals, before
        anything is created (the request's own rules are the pipeline's, api.validation)."""
        self._require_commitment()
        self._on_demand.check_warm_throughput(name, warm, 0)

    async def update_record_distribution(self, params: dict[str, Any]) -> None:
        """Routing follows the new strategy from the next record; no UPDATING phase (AWS: it
        takes effect immediately)."""
        stream = self._access.active_stream(params)
        strategy = params["RecordDistributionStrategy"]
        if strategy == RecordDistribution.AUTO and stream.mode != StreamMode.ON_DEMAND:
            raise errors.InvalidArgumentException(
                f"{AUTO_NEEDS_ON_DEMAND} Stream {stream.name} is using {stream.mode} mode."
            )

        def change() -> None:
            stream.record_distribution = strategy

        await self._access.commit(stream, change)


def warm_throughput(stream: Stream) -> dict[str, int]:
    """WarmThroughput of DescribeStreamSummary: the target asked for (0 when none was) and what
    the stream is scaled to take now, its open shards at 1 MiB/s each. Current can exceed the
    target (growth under load, or a target lowered without release) or trail it (shard limit)."""
    return {
        "TargetMiBps": stream.warm_throughput_mibps or 0,
        "CurrentMiBps": current_mibps(stream),
    }


def capacity_summary(stream: Stream, commitment_in_force: bool) -> dict[str, Any]:
    """DescribeStreamSummary's capacity members. AWS reports WarmThroughput only for ON_DEMAND
    streams of accounts with the billing commitment, RecordDistributionStrategy only for ON_DEMAND
    streams (USER_PARTITION_KEY unless AUTO was chosen)."""
    if stream.mode != StreamMode.ON_DEMAND:
        return {}
    out: dict[str, Any] = {"RecordDistributionStrategy": stream.record_distribution or USER_KEY}
    if commitment_in_force:
        out["WarmThroughput"] = warm_throughput(stream)
    return out


def _releases(stream: Stream, mibps: int | None) -> bool:
    """A warm throughput at or below the previous one releases the excess (AWS's rule)."""
    return mibps is not None and mibps <= (stream.warm_throughput_mibps or 0)
