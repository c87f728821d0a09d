"""Stream settings: retention, encryption, enhanced monitoring, capacity mode, record size, warm
throughput, record distribution and resource policies, with AWS's rules and messages.

Every change is made in memory and then stored with the stream's document; if storing fails the
stream is put back as it was. Changes that AWS applies asynchronously leave the stream UPDATING
for ``config.update_stream_ms`` (default 0: ACTIVE again at once).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from shardflow import errors
from shardflow.engine.streams import Consumer, Stream, now_ms

if TYPE_CHECKING:
    from shardflow.engine.engine import Engine

MIN_RETENTION_HOURS = 24  # AWS: a stream keeps records at least a day
MAX_RETENTION_HOURS = 8760  # AWS: at most 365 days (long-term retention)
MAX_MODE_SWITCHES_PER_DAY = 2  # AWS: capacity mode can change twice per rolling 24 hours
DAY_MS = 86_400_000
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

# KMS key identifiers as KMS accepts them: key id (UUID, or mrk- for multi-Region keys), key ARN,
# alias name (alias/aws/kinesis is the AWS-managed key) and alias ARN.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_KEY_ID = rf"(?:{_UUID}|mrk-[0-9a-fA-F]{{32}})"
_ALIAS = r"alias/[a-zA-Z0-9:/_-]+"
_KMS_ARN = r"arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:"
_KEY_ID_RE = re.compile(rf"^{_KEY_ID}$")
_ALIAS_RE = re.compile(rf"^{_ALIAS}$")
_KEY_ARN_RE = re.compile(rf"^{_KMS_ARN}key/{_KEY_ID}$")
_ALIAS_ARN_RE = re.compile(rf"^{_KMS_ARN}{_ALIAS}$")

_UNSAVED = ("shards", "_route_starts", "_route_shards")  # not part of the stream's document


# -- shared by the metadata features --------------------------------------------------------


def active_stream(engine: Engine, params: dict[str, Any]) -> Stream:
    """The stream a request names, which must be ACTIVE (AWS's message otherwise)."""
    stream = engine.find(params)
    status = stream.current_status()
    if status != "ACTIVE":
        raise errors.ResourceInUseException(
            f"Stream {stream.name} under account {engine.config.account_id} not ACTIVE,"
            f" instead in state {status}"
        )
    return stream


def begin_update(engine: Engine, stream: Stream) -> None:
    """The stream is UPDATING for the configured delay (ACTIVE at once by default)."""
    delay = engine.config.update_stream_ms
    stream.status = "UPDATING" if delay else "ACTIVE"
    stream.ready_at_ms = now_ms() + delay


async def commit(engine: Engine, stream: Stream, change: Callable[[], None]) -> None:
    """Apply ``change`` to the stream and store it; put the stream back if storing fails."""
    saved = {
        f.name: copy.deepcopy(getattr(stream, f.name))
        for f in dataclasses.fields(stream)
        if f.name not in _UNSAVED
    }
    change()
    try:
        await engine.persist([stream])
    except BaseException:
        for name, value in saved.items():
            setattr(stream, name, value)
        raise


class StreamSettings:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def _account(self) -> str:
        return self.engine.config.account_id

    # -- retention -------------------------------------------------------------------------

    async def change_retention(self, params: dict[str, Any], *, increase: bool) -> None:
        stream = active_stream(self.engine, params)
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

        def change() -> None:
            stream.retention_hours = hours
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)

    # -- encryption ------------------------------------------------------------------------

    async def set_encryption(self, params: dict[str, Any], *, start: bool) -> None:
        stream = active_stream(self.engine, params)
        if params["EncryptionType"] != "KMS":
            raise errors.InvalidArgumentException(
                "KMS is the only valid EncryptionType for this request."
            )
        key_id = params["KeyId"]
        check_kms_key_id(key_id)

        def change() -> None:
            stream.encryption_type = "KMS" if start else "NONE"
            stream.key_id = key_id if start else None
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)

    # -- enhanced monitoring ---------------------------------------------------------------

    async def set_monitoring(self, params: dict[str, Any], *, enable: bool) -> dict[str, Any]:
        stream = active_stream(self.engine, params)
        requested = set(params["ShardLevelMetrics"])
        named = set(SHARD_LEVEL_METRICS) if "ALL" in requested else requested
        current = list(stream.shard_level_metrics)
        chosen = set(current) | named if enable else set(current) - named
        desired = [m for m in SHARD_LEVEL_METRICS if m in chosen]

        def change() -> None:
            stream.shard_level_metrics = desired
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)
        return {
            "StreamName": stream.name,
            "CurrentShardLevelMetrics": current,
            "DesiredShardLevelMetrics": desired,
            "StreamARN": stream.arn,
        }

    # -- capacity --------------------------------------------------------------------------

    async def update_mode(self, params: dict[str, Any]) -> None:
        stream = active_stream(self.engine, params)
        mode = params["StreamModeDetails"]["StreamMode"]
        warm = params.get("WarmThroughputMiBps")
        if mode == stream.mode and warm is None:
            return  # nothing to change
        now = now_ms()
        recent = [t for t in stream.mode_switches_ms if now - t < DAY_MS]
        if mode != stream.mode:
            if len(recent) >= MAX_MODE_SWITCHES_PER_DAY:
                raise errors.LimitExceededException(
                    f"Stream {stream.name} under account {self._account} has already switched"
                    f" capacity mode {MAX_MODE_SWITCHES_PER_DAY} times in the last 24 hours."
                    " Try again later."
                )
            if mode == "ON_DEMAND":
                self.check_on_demand_limit()
        if warm is not None and mode != "ON_DEMAND":
            raise errors.InvalidArgumentException(
                "WarmThroughputMiBps can only be specified for streams with ON_DEMAND capacity"
                " mode."
            )

        def change() -> None:
            if mode != stream.mode:
                stream.mode_switches_ms = [*recent, now]
                stream.mode = mode
            if mode == "PROVISIONED":
                stream.warm_throughput_mibps = None
            elif warm is not None:
                stream.warm_throughput_mibps = warm
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)

    def check_on_demand_limit(self) -> None:
        config = self.engine.config
        on_demand = sum(1 for s in self.engine.live_streams() if s.mode == "ON_DEMAND")
        if on_demand >= config.on_demand_stream_limit:
            raise errors.LimitExceededException(
                f"This request would exceed the on-demand stream limit for the account"
                f" {config.account_id} in {config.region}. Current on-demand stream count for"
                f" the account: {on_demand}. Limit: {config.on_demand_stream_limit}."
            )

    async def update_max_record_size(self, params: dict[str, Any]) -> None:
        stream = active_stream(self.engine, params)
        size = int(params["MaxRecordSizeInKiB"])

        def change() -> None:
            stream.max_record_kib = size
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)

    async def update_warm_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = active_stream(self.engine, params)
        if stream.mode != "ON_DEMAND":
            raise errors.InvalidArgumentException(
                f"Warm throughput can only be updated for streams with ON_DEMAND capacity mode."
                f" Stream {stream.name} under account {self._account} is PROVISIONED."
            )
        target = int(params["WarmThroughputMiBps"])

        def change() -> None:
            stream.warm_throughput_mibps = target
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)
        return {
            "StreamARN": stream.arn,
            "StreamName": stream.name,
            "WarmThroughput": warm_throughput(stream),
        }

    async def update_record_distribution(self, params: dict[str, Any]) -> None:
        stream = active_stream(self.engine, params)
        strategy = params["RecordDistributionStrategy"]

        def change() -> None:
            stream.record_distribution = strategy
            begin_update(self.engine, stream)

        await commit(self.engine, stream, change)

    # -- resource policies -----------------------------------------------------------------

    async def put_policy(self, params: dict[str, Any]) -> None:
        stream, consumer = self.engine.consumers.resource(params["ResourceARN"])
        policy = params["Policy"]
        try:
            parsed = orjson.loads(policy)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise errors.InvalidArgumentException("Policy is not a valid JSON policy document.")
        await commit(self.engine, stream, lambda: _set_policy(stream, consumer, policy))

    def get_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self.engine.consumers.resource(params["ResourceARN"])
        policy = consumer.policy if consumer is not None else stream.policy
        return {"Policy": policy if policy is not None else "{}"}

    async def delete_policy(self, params: dict[str, Any]) -> None:
        stream, consumer = self.engine.consumers.resource(params["ResourceARN"])
        await commit(self.engine, stream, lambda: _set_policy(stream, consumer, None))


def _set_policy(stream: Stream, consumer: Consumer | None, policy: str | None) -> None:
    if consumer is not None:
        consumer.policy = policy
    else:
        stream.policy = policy


def check_kms_key_id(key_id: str) -> None:
    """Accept the four forms KMS resolves; refuse anything else as AWS does, without KMS."""
    if key_id.startswith("arn:"):
        if not (_KEY_ARN_RE.match(key_id) or _ALIAS_ARN_RE.match(key_id)):
            raise errors.InvalidArgumentException(
                "Received KeyId ARN is not a properly formatted ARN."
            )
    elif not (_KEY_ID_RE.match(key_id) or _ALIAS_RE.match(key_id)):
        raise errors.InvalidArgumentException(
            "Received KeyId is not a properly formatted Alias or GUID."
        )


def warm_throughput(stream: Stream) -> dict[str, int]:
    """WarmThroughput of DescribeStreamSummary: the target, and what the stream has now (the
    target once the update is done; before that the shards' 1 MiB/s each)."""
    target = stream.warm_throughput_mibps or 0
    current = target if stream.current_status() == "ACTIVE" else stream.open_shard_count
    return {"TargetMiBps": target, "CurrentMiBps": current}
