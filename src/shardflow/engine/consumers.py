"""The enhanced fan-out consumer registry: RegisterStreamConsumer, DescribeStreamConsumer,
ListStreamConsumers and DeregisterStreamConsumer.

Consumers live in their stream's document, so a restart keeps them and deleting the stream
removes them. A consumer is CREATING for ``config.create_stream_ms`` after registration and
DELETING for ``config.delete_stream_ms`` after deregistration (both 0 by default); the states
are computed from stored times, as streams' are, so no timer is needed.

ARNs: ``<stream ARN>/consumer/<name>:<creation epoch seconds>``. A consumer registered again
under the same name gets a new ARN, and the old ARN no longer finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shardflow import errors
from shardflow.engine.access import StreamAccess
from shardflow.engine.streams import RegisteredConsumer, Stream
from shardflow.engine.tags import check_tags
from shardflow.model.enums import StreamMode, StreamStatus
from shardflow.model.shard_ids import parse_stream_arn

MAX_CONSUMERS_PER_STREAM = 20  # AWS: registered consumers per stream (provisioned, On-demand
# Standard)
MAX_CONSUMERS_ON_DEMAND_ADVANTAGE = 50  # AWS: per ON_DEMAND stream under On-demand Advantage
_CONSUMER_ARN_RE = re.compile(
    r"^(arn:aws[a-z\-]*:kinesis:[a-z0-9\-]+:\d{12}:stream/[a-zA-Z0-9_.\-]+)"
    r"/consumer/([a-zA-Z0-9_.\-]+):(\d+)$"
)


class Consumers:
    """Registered (enhanced fan-out) consumers, kept in their stream's document."""

    def __init__(
        self,
        access: StreamAccess,
        *,
        create_ms: int,
        delete_ms: int,
        commitment_in_force: Callable[[], bool],
    ) -> None:
        self._access = access
        self._create_ms = create_ms  # CREATING -> ACTIVE delay
        self._delete_ms = delete_ms  # DELETING -> gone delay
        self._commitment_in_force = commitment_in_force
        self.queue_count: Callable[[Stream], int] = lambda stream: 0  # set by the engine

    @property
    def _account(self) -> str:
        return self._access.account_id

    # -- operations ------------------------------------------------------------------------

    async def register(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._access.find({"StreamARN": params["StreamARN"]})
        status = stream.current_status()
        if status not in (StreamStatus.ACTIVE, StreamStatus.UPDATING):
            raise errors.ResourceInUseException(
                f"Stream {stream.name} under account {self._account} not ACTIVE, instead in"
                f" state {status}"
            )
        name = params["ConsumerName"]
        now = self._access.now_ms()
        live = stream.live_consumers(now)
        if any(c.name == name for c in live):
            raise errors.ResourceInUseException(
                f"Consumer {name} under stream {stream.name} already exists for account"
                f" {self._account}."
            )
        registered = len(live) + self.queue_count(stream)  # queues share the limit
        check_room(stream, self._account, registered, self.limit(stream))
        tags = params.get("Tags") or {}
        if tags:
            check_tags(tags, {}, f"consumer {name}", self._account)
        consumer = RegisteredConsumer(
            name=name,
            created_ms=now,
            ready_at_ms=now + self._create_ms,
            tags=dict(tags),
        )

        def change() -> None:
            stream.consumers = [*live, consumer]  # forget the ones whose deletion finished

        await self._access.commit(stream, change)
        return {"Consumer": self.summary(stream, consumer)}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self._lookup(params)
        return {
            "ConsumerDescription": {
                **self.summary(stream, consumer),
                "StreamARN": stream.arn,
            }
        }

    def listing(self, params: dict[str, Any]) -> tuple[Stream, list[RegisteredConsumer]]:
        """ListStreamConsumers' stream and its consumers in registration order (the handler
        pages them)."""
        stream = self._access.find({"StreamARN": params["StreamARN"]})
        created = params.get("StreamCreationTimestamp")
        if created is not None and int(created) != stream.created_ms // 1000:
            raise errors.ResourceNotFoundException(  # an earlier stream of the same name
                f"Stream {stream.name} under account {self._account} not found."
            )
        return stream, stream.live_consumers()

    async def deregister(self, params: dict[str, Any]) -> None:
        stream, consumer = self._lookup(params)
        if consumer.delete_at_ms is not None:
            return  # already being deleted
        delay = self._delete_ms
        now = self._access.now_ms()

        def change() -> None:
            if delay:
                consumer.delete_at_ms = now + delay
            else:
                stream.consumers = [c for c in stream.live_consumers(now) if c is not consumer]

        await self._access.commit(stream, change)

    # -- used by other features ------------------------------------------------------------

    def check_deletable(self, stream: Stream, params: dict[str, Any]) -> None:
        """DeleteStream refuses a stream with consumers unless EnforceConsumerDeletion is true."""
        if params.get("EnforceConsumerDeletion") or not stream.live_consumers():
            return
        named = params.get("StreamARN") or f"{self._account}:{stream.name}"
        raise errors.ResourceInUseException(
            f"DeleteStream can't delete {named} because there are consumers associated with this"
            f" data stream. To delete {stream.name} anyway, set the EnforceConsumerDeletion"
            " parameter to true to force the deletion of all the consumers that are associated"
            " with it."
        )

    def count(self, stream: Stream) -> int:
        return len(stream.live_consumers())

    def limit(self, stream: Stream) -> int:
        """Registered consumers the stream may have: 50 for an ON_DEMAND stream while the
        account's billing commitment (On-demand Advantage) is in force, 20 otherwise (AWS's
        model, RegisterStreamConsumer). Consumers registered above 20 stay when the commitment
        ends or the stream turns PROVISIONED; no new one is registered until they are fewer."""
        if stream.mode == StreamMode.ON_DEMAND and self._commitment_in_force():
            return MAX_CONSUMERS_ON_DEMAND_ADVANTAGE
        return MAX_CONSUMERS_PER_STREAM

    def resource(self, arn: str) -> tuple[Stream, RegisteredConsumer | None]:
        """The stream, or the stream and consumer, a ResourceARN names."""
        if _CONSUMER_ARN_RE.match(arn):
            return self._by_consumer_arn(arn)
        if parse_stream_arn(arn) is not None:
            return self._access.find({"StreamARN": arn}), None
        raise errors.ResourceNotFoundException(
            f"Resource {arn} under account {self._account} not found."
        )

    # -- lookups ---------------------------------------------------------------------------

    def find(self, arn: str) -> tuple[Stream, RegisteredConsumer]:
        """The stream and consumer a ConsumerARN names (SubscribeToShard)."""
        return self._by_consumer_arn(arn)

    def summary(self, stream: Stream, consumer: RegisteredConsumer) -> dict[str, Any]:
        """The Consumer shape (timestamps as epoch seconds, as handlers return them)."""
        return {
            "ConsumerName": consumer.name,
            "ConsumerARN": consumer.arn(stream.arn),
            "ConsumerStatus": consumer.status(stream.clock.now_ms()),
            "ConsumerCreationTimestamp": consumer.created_ms / 1000,
        }

    def _lookup(self, params: dict[str, Any]) -> tuple[Stream, RegisteredConsumer]:
        arn = params.get("ConsumerARN")
        if arn is not None:
            return self._by_consumer_arn(arn)
        # Both present: the API's validation refuses a request naming neither way.
        stream_arn, name = params["StreamARN"], params["ConsumerName"]
        stream = self._access.find({"StreamARN": stream_arn})
        for consumer in stream.live_consumers():
            if consumer.name == name:
                return stream, consumer
        raise self._consumer_not_found(name, stream.name)

    def _by_consumer_arn(self, arn: str) -> tuple[Stream, RegisteredConsumer]:
        match = _CONSUMER_ARN_RE.match(arn)
        if match is None:
            raise errors.InvalidArgumentException(f"Invalid ConsumerARN: {arn}")
        stream_arn, name, created_s = match.group(1), match.group(2), int(match.group(3))
        # The ConsumerARN too: another account's caller needs the consumer's policy's leave.
        stream = self._access.find({"StreamARN": stream_arn, "ConsumerARN": arn})
        for consumer in stream.live_consumers():
            if consumer.name == name and consumer.created_ms // 1000 == created_s:
                return stream, consumer
        raise self._consumer_not_found(name, stream.name)

    def _consumer_not_found(self, name: str, stream_name: str) -> errors.KinesisError:
        return errors.ResourceNotFoundException(
            f"Consumer {name} under stream {stream_name} under account {self._account} not found."
        )


def check_room(stream: Stream, account: str, registered: int, limit: int) -> None:
    """AWS's refusal of one more registration on a stream whose consumers and queues (they
    share the limit) already number ``limit``."""
    if registered >= limit:
        raise errors.LimitExceededException(
            f"Stream {stream.name} under account {account} already has"
            f" {registered} registered consumers, the limit is {limit}."
        )
