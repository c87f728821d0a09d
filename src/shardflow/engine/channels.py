"""Channels: CreateChannel, DescribeChannel, ListChannels, UpdateChannel, DeleteChannel.

A channel delivers an ON_DEMAND stream's records to a general purpose S3 bucket or to an
Iceberg table (S3 Tables), from the moment it is created (no backfill). This service owns the
definitions, their rules and quotas and their states; the delivery itself runs in
``shardflow.delivery`` workers that it starts and stops through the ``Deliveries`` port.
Rules and figures are AWS's (the Kinesis API reference and the developer guide's "data
delivery" pages); where AWS says nothing, docs/decisions.md says what was chosen.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from shardflow import errors
from shardflow.engine import channel_rules as rules
from shardflow.engine import tenancy
from shardflow.engine.access import StreamAccess
from shardflow.engine.channel_model import (
    S3,
    S3_TABLES,
    Channel,
    now_ms,
)
from shardflow.engine.limits import TokenBucket
from shardflow.engine.streams import Stream
from shardflow.engine.tags import check_tag_keys, check_tags, tag_list
from shardflow.model.shard_ids import channel_arn, parse_channel_arn
from shardflow.storage.channels import ChannelStore

MAX_CHANNELS_PER_ACCOUNT = 50  # DescribeLimits' ChannelCountLimit (AWS publishes no figure)
CONTROL_TPS = 5.0  # AWS: 5 transactions per second per account for each channel operation


class Deliveries(Protocol):
    """Starts and stops the delivery worker of a channel (``delivery.runner``)."""

    def start(self, channel: Channel) -> None: ...

    async def stop(self, channel: Channel) -> None: ...

    async def stop_all(self) -> None: ...


class Channels:
    """Channel definitions, their states and quotas; delivery runs in the ``Deliveries``."""

    def __init__(
        self,
        access: StreamAccess,
        *,
        region: str,
        store: ChannelStore,
        store_position: Callable[[], int],
        deliveries: Deliveries,
        update_ms: int,
        delete_ms: int,
        rate_limited: bool,
        limits_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._default_region = region
        self._store = store
        self._store_position = store_position
        self._deliveries = deliveries
        self._update_ms = update_ms
        self._delete_ms = delete_ms
        self._buckets: dict[str, TokenBucket] | None = (
            {} if rate_limited else None
        )  # one per operation, as AWS counts them
        self._rate = CONTROL_TPS * limits_scale
        self._clock = clock
        self._channels: dict[str, Channel] = {}  # by ARN, including DELETING ones

    @property
    def _account(self) -> str:
        return self._access.account_id

    @property
    def _region(self) -> str:
        """The region the current request acts in (the server's outside a request)."""
        who = tenancy.caller()
        return self._default_region if who is None else who.tenant.region

    def in_scope(self) -> list[Channel]:
        """The live channels of the account and region the current request acts in."""
        home = f":{self._region}:{self._account}:channel/"
        return [c for c in self.live() if home in c.arn]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Load stored channels and start the delivery of each live one."""
        self._store.open()
        for arn, doc in self._store.load():
            channel = Channel.from_doc(doc)
            if channel.is_gone():
                self._store.forget(arn, channel.channel_id)  # its deletion delay passed
            else:
                self._channels[arn] = channel
        for channel in self._channels.values():
            if channel.current_status() in ("CREATING", "ACTIVE", "UPDATING"):
                self._deliveries.start(channel)

    async def stop(self) -> None:
        await self._deliveries.stop_all()
        self._store.close()

    # -- operations ------------------------------------------------------------------------

    async def create(self, params: dict[str, Any]) -> dict[str, Any]:
        self._throttle("CreateChannel")
        s3 = params.get("S3DestinationConfiguration")
        tables = params.get("S3TablesDestinationConfiguration")
        if (s3 is None) == (tables is None):
            raise errors.ValidationException(
                "Exactly one of S3DestinationConfiguration and S3TablesDestinationConfiguration"
                " must be specified."
            )
        sources = params["StreamConfigurationList"]
        if len(sources) != 1:
            raise errors.ValidationException(
                "StreamConfigurationList must contain exactly one stream: a channel has one"
                " source stream."
            )
        source = sources[0]
        record = dict(source["RecordConfiguration"])
        fmt = record["RecordFormatType"]
        kind = S3 if s3 is not None else S3_TABLES
        if s3 is not None:
            destination = rules.s3_destination(s3, fmt)
        else:
            assert tables is not None
            destination = rules.tables_destination(tables, record)
        encryption = params.get("EncryptionConfiguration")
        rules.check_encryption(encryption)
        stream = self._access.find({"StreamARN": source["StreamARN"]})
        rules.check_stream(stream, self._account)
        name = params["ChannelName"]
        arn = channel_arn(self._region, self._account, name)
        existing = self._channels.get(arn)
        if existing is not None and not existing.is_gone():
            raise errors.ResourceInUseException(
                f"Channel {name} under account {self._account} already exists."
            )
        live = self.in_scope()
        if len(live) >= MAX_CHANNELS_PER_ACCOUNT:
            raise errors.LimitExceededException(
                f"This request would exceed the channel limit for the account {self._account}"
                f" in {self._region}. Current channel count for the account: {len(live)}."
                f" Limit: {MAX_CHANNELS_PER_ACCOUNT}."
            )
        if any(c.stream_arn == stream.arn and c.destination_type == kind for c in live):
            raise errors.LimitExceededException(
                f"Stream {stream.name} under account {self._account} already has a channel"
                f" with destination type {kind}; a stream has at most one channel per"
                " destination type."
            )
        if kind == S3_TABLES:
            rules.check_table_free(destination, live)
        tags = params.get("Tags") or {}
        if tags:
            check_tags(tags, {}, f"channel {name}", self._account)
        channel = Channel(
            name=name,
            arn=arn,
            channel_id=str(uuid.uuid4()),
            created_ms=now_ms(),
            role_arn=params["ServiceExecutionRoleARN"],
            stream_arn=stream.arn,
            stream_created_ms=stream.created_ms,
            record_configuration=record,
            destination_type=kind,
            destination=destination,
            start_position=self._store_position(),
            encryption=dict(encryption) if encryption is not None else None,
            tags=dict(tags),
        )
        if params.get("LoggingConfiguration") is not None:
            channel.logging = params["LoggingConfiguration"]
        self._channels[arn] = channel
        try:
            await self._store.save(arn, channel.doc())
        except BaseException:
            if self._channels.get(arn) is channel:
                del self._channels[arn]
            raise
        self._deliveries.start(channel)
        return {"ChannelDescription": channel.description()}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._throttle("DescribeChannel")
        return {"ChannelDescription": self.find(params["ChannelARN"]).description()}

    def listing(self, params: dict[str, Any]) -> list[Channel]:
        """ListChannels' channels, filtered by stream, in creation order (the handler pages)."""
        self._throttle("ListChannels")
        channels = sorted(self.in_scope(), key=lambda c: (c.created_ms, c.name))
        filters = params.get("StreamFilter")
        if filters is not None:
            wanted = []
            for f in filters:
                created = f.get("StreamCreationTimestamp")
                wanted.append((f["StreamARN"], None if created is None else int(created)))
            channels = [
                c
                for c in channels
                if any(
                    c.stream_arn == arn and (ts is None or ts == c.stream_created_ms // 1000)
                    for arn, ts in wanted
                )
            ]
        return channels

    async def update(self, params: dict[str, Any]) -> dict[str, Any]:
        self._throttle("UpdateChannel")
        channel = self.find(params["ChannelARN"])
        status = channel.current_status()
        if status != "ACTIVE":
            raise errors.ResourceInUseException(
                f"Channel {channel.name} under account {self._account} not ACTIVE, instead in"
                f" state {status}"
            )
        s3 = params.get("S3DestinationConfiguration")
        tables = params.get("S3TablesDestinationConfiguration")
        if s3 is not None and tables is not None:
            raise errors.ValidationException(
                "At most one of S3DestinationConfiguration and S3TablesDestinationConfiguration"
                " may be specified."
            )
        given, path = (
            (s3, "s3DestinationConfiguration")
            if s3 is not None
            else (
                tables,
                "s3TablesDestinationConfiguration",
            )
        )
        if given is not None:
            wanted = S3 if s3 is not None else S3_TABLES
            if wanted != channel.destination_type:
                raise errors.ValidationException(
                    f"Channel {channel.name} delivers to {channel.destination_type}: its"
                    f" destination cannot be changed to {wanted}."
                )
            freshness = rules.freshness(given, path)
        logging = params.get("LoggingConfiguration")
        if given is None and logging is None:
            raise errors.ValidationException(
                "UpdateChannel needs DataFreshnessInSeconds or LoggingConfiguration to change."
            )
        saved = Channel.from_doc(channel.doc())
        if given is not None:
            channel.destination["DataFreshnessInSeconds"] = freshness
        if logging is not None:
            channel.logging = logging
        channel.status = "UPDATING"
        channel.ready_at_ms = now_ms() + self._update_ms
        try:
            await self._store.save(channel.arn, channel.doc())
        except BaseException:
            for name in ("destination", "logging", "status", "ready_at_ms"):
                setattr(channel, name, getattr(saved, name))  # the worker holds this object
            raise
        out = channel.description()
        out["ChannelStatus"] = "UPDATING"  # AWS: the state right after the request
        return {"ChannelDescription": out}

    async def delete(self, params: dict[str, Any]) -> None:
        self._throttle("DeleteChannel")
        channel = self.find(params["ChannelARN"])
        if channel.delete_at_ms is not None:
            return  # already being deleted
        await self._deliveries.stop(channel)
        if self._delete_ms:
            channel.delete_at_ms = now_ms() + self._delete_ms
            await self._store.save(channel.arn, channel.doc())
        else:
            await self._forget(channel)

    async def drop_all(self) -> None:
        """Forget every channel at once (the server's test reset); delivered data stays."""
        await self._deliveries.stop_all()
        for channel in list(self._channels.values()):
            await self._forget(channel)

    # -- used by the delivery workers ------------------------------------------------------

    async def set_status(self, channel: Channel, status: str, reason: str | None = None) -> None:
        """A worker's verdict on its destination: ACTIVE, or FAILED with the reason."""
        if self._channels.get(channel.arn) is not channel or channel.delete_at_ms is not None:
            return  # deleted meanwhile
        channel.status = status
        channel.status_reason = reason
        await self._store.save(channel.arn, channel.doc())

    # -- used by other features ------------------------------------------------------------

    def live(self) -> list[Channel]:
        at = now_ms()
        for channel in [c for c in self._channels.values() if c.is_gone(at)]:
            del self._channels[channel.arn]  # its stored document goes at the next sweep
        return [c for c in self._channels.values() if not c.is_gone(at)]

    def count(self, stream: Stream | None = None) -> int:
        """Channels of the account, or of one stream (ChannelCount)."""
        if stream is None:
            return len(self.in_scope())
        live = self.live()
        return sum(1 for c in live if c.stream_arn == stream.arn)

    def check_stream_deletable(self, stream: Stream) -> None:
        """AWS: a stream cannot be deleted while it has active channels."""
        names = sorted(
            c.name for c in self.live() if c.stream_arn == stream.arn and c.delete_at_ms is None
        )
        if names:
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {self._account} has channels"
                f" ({', '.join(names)}); delete them with DeleteChannel before deleting the"
                " stream."
            )

    def owns(self, arn: str) -> bool:
        """Whether a ResourceARN names a channel (TagResource and friends)."""
        return parse_channel_arn(arn) is not None

    async def tag(self, arn: str, tags: dict[str, str]) -> None:
        channel = self.find(arn)
        check_tags(tags, channel.tags, f"channel {channel.name}", self._account)
        channel.tags.update(tags)
        await self._store.save(channel.arn, channel.doc())

    async def untag(self, arn: str, keys: list[str]) -> None:
        channel = self.find(arn)
        check_tag_keys(keys, f"channel {channel.name}", self._account)
        for key in keys:
            channel.tags.pop(key, None)
        await self._store.save(channel.arn, channel.doc())

    def tags_of(self, arn: str) -> dict[str, Any]:
        return {"Tags": tag_list(self.find(arn).tags)}

    def find(self, arn: str) -> Channel:
        parsed = parse_channel_arn(arn)
        if parsed is None:
            raise errors.InvalidArgumentException(f"Invalid ChannelARN: {arn}")
        _, account, name = parsed
        if account != self._account:
            raise errors.AccessDeniedException(
                f"User is not authorized to access channel {arn} in account {account}."
            )
        channel = self._channels.get(arn)
        if channel is None or channel.is_gone():
            raise errors.ResourceNotFoundException(
                f"Channel {name} under account {self._account} not found."
            )
        return channel

    # -- checks ----------------------------------------------------------------------------

    def _throttle(self, operation: str) -> None:
        if self._buckets is None:
            return
        now = self._clock()
        bucket = self._buckets.setdefault(operation, TokenBucket.full(self._rate, now))
        if not bucket.take(1, now):
            raise errors.LimitExceededException(
                f"Rate exceeded for {operation} under account {self._account}: at most"
                f" {CONTROL_TPS:g} transactions per second."
            )

    async def _forget(self, channel: Channel) -> None:
        if self._channels.get(channel.arn) is channel:
            del self._channels[channel.arn]
        await self._store.delete(channel.arn, channel.channel_id)
