"""Resource policies: PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy.

One policy per stream ARN and one per consumer ARN, each its own. A policy is kept in its
resource's record (the stream's document), so it survives a restart and goes away with the
stream or the consumer; a consumer registered again under the same name has a new ARN and no
policy.

Documents are checked as a resource policy for the ARN they are attached to
(``shardflow.model.policy_document``) but never evaluated: Shardflow does not verify signatures,
so there is no caller identity to evaluate a policy against.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.loaders import Loader

from shardflow import errors
from shardflow.engine.access import ResolveResource, StreamAccess
from shardflow.engine.streams import RegisteredConsumer, Stream
from shardflow.model.enums import ConsumerStatus, StreamStatus
from shardflow.model.policy_document import InvalidPolicy, check_policy

NO_POLICY = "{}"  # GetResourcePolicy's Policy for a resource without one


class Policies:
    def __init__(self, access: StreamAccess, resource: ResolveResource) -> None:
        self._access = access
        self._resource = resource

    async def put(self, params: dict[str, Any]) -> None:
        stream, consumer = self._resource(params["ResourceARN"])
        _check_ready(self._access.account_id, stream, consumer)
        policy = params["Policy"]
        try:
            check_policy(policy, _arn(stream, consumer), kinesis_actions())
        except InvalidPolicy as exc:
            raise errors.InvalidArgumentException(str(exc)) from None
        await self._access.commit(stream, lambda: _attach(stream, consumer, policy))

    def get(self, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self._resource(params["ResourceARN"])
        policy = consumer.policy if consumer is not None else stream.policy
        return {"Policy": policy if policy is not None else NO_POLICY}

    async def delete(self, params: dict[str, Any]) -> None:
        arn = params["ResourceARN"]
        stream, consumer = self._resource(arn)
        if (consumer.policy if consumer is not None else stream.policy) is None:
            # The answer moto and the other emulators give; not confirmed against AWS.
            raise errors.ResourceNotFoundException(
                f"No resource policy found for resource ARN {arn}."
            )
        await self._access.commit(stream, lambda: _attach(stream, consumer, None))


@functools.cache
def kinesis_actions() -> frozenset[str]:
    """The actions of the ``kinesis:`` namespace: the operations of botocore's Kinesis model."""
    model = Loader().load_service_model("kinesis", "service-2")
    return frozenset(model["operations"])


def _check_ready(account: str, stream: Stream, consumer: RegisteredConsumer | None) -> None:
    """A policy is attached to a stream that is ACTIVE or UPDATING, or to an ACTIVE consumer."""
    status = stream.current_status()
    if status not in (StreamStatus.ACTIVE, StreamStatus.UPDATING):
        raise errors.ResourceInUseException(
            f"Stream {stream.name} under account {account} not ACTIVE, instead in state {status}"
        )
    if consumer is not None and consumer.status(stream.clock.now_ms()) != ConsumerStatus.ACTIVE:
        # AWS's wording, as CloudFormation reported it for a consumer still CREATING.
        raise errors.ResourceInUseException(
            f"Consumer {consumer.name} with creation timestamp {consumer.created_ms // 1000}"
            f" under stream {stream.name} and account {account} is not in ACTIVE status."
        )


def _arn(stream: Stream, consumer: RegisteredConsumer | None) -> str:
    return consumer.arn(stream.arn) if consumer is not None else stream.arn


def _attach(stream: Stream, consumer: RegisteredConsumer | None, policy: str | None) -> None:
    if consumer is not None:
        consumer.policy = policy
    else:
        stream.policy = policy
