"""The stream a request names, in the request's account and region, or AWS's error.

A StreamName resolves in the caller's tenant. A StreamARN resolves where the ARN says: the rest
of the request acts in that account and region (``tenancy.act_in``); when that account is not
the caller's, the stream's resource policy must allow the operation (``model.policy_eval``),
or the request gets AWS's AccessDeniedException.
"""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.engine import tenancy
from shardflow.engine.registry import StreamRegistry
from shardflow.engine.streams import Stream
from shardflow.model.policy_eval import Decision, evaluate
from shardflow.model.shard_ids import parse_stream_arn


class StreamLookup:
    def __init__(self, streams: StreamRegistry) -> None:
        self._streams = streams
        self._default = streams.default

    def account(self) -> str:
        """The account the current request acts in (the stream owner's, in messages)."""
        who = tenancy.caller()
        return self._default.account if who is None else who.tenant.account

    def region(self) -> str:
        who = tenancy.caller()
        return self._default.region if who is None else who.tenant.region

    def not_found(self, name: str) -> errors.KinesisError:
        return errors.ResourceNotFoundException(
            f"Stream {name} under account {self.account()} not found."
        )

    def stream_name_of(self, params: dict[str, Any]) -> str:
        """The stream a request names by StreamName or StreamARN (AWS checks they agree)."""
        name = params.get("StreamName")
        arn = params.get("StreamARN")
        if arn is not None:
            parsed = parse_stream_arn(arn)
            if parsed is None:
                raise errors.InvalidArgumentException(f"Invalid StreamARN: {arn}")
            region, account, arn_name = parsed
            if account != self.account() or region != self.region():
                self._enter_home(arn, region, account, arn_name, params.get("ConsumerARN"))
            if name is not None and name != arn_name:
                raise errors.InvalidArgumentException(
                    "StreamARN and StreamName do not refer to the same stream."
                )
            return arn_name
        if name is None:
            raise errors.InvalidArgumentException(
                "Either StreamName or StreamARN must be provided."
            )
        return str(name)

    def find(self, params: dict[str, Any], *, active_only: bool = False) -> Stream:
        name = self.stream_name_of(params)
        stream = self._streams.get(name)
        if stream is None or stream.is_gone():
            raise self.not_found(name)
        if active_only and stream.current_status() not in ("ACTIVE", "UPDATING"):
            raise self.not_found(name)
        return stream

    def _enter_home(
        self, arn: str, region: str, account: str, name: str, consumer_arn: str | None
    ) -> None:
        """Act in the ARN's tenant; a caller of another account needs the leave of the policy
        of the resource it names: the consumer's for a ConsumerARN, else the stream's."""
        home = tenancy.tenant_of(account, region, self._default.account, self._default.region)
        who = tenancy.caller()
        caller_account = self._default.account if who is None else who.account
        tenancy.act_in(home)
        if account == caller_account:
            return
        operation = who.operation if who is not None else ""
        stream = self._streams.get(name)
        policy = stream.policy if stream is not None and not stream.is_gone() else None
        if consumer_arn is not None:
            arn, policy = consumer_arn, _consumer_policy(stream, consumer_arn)
        decision = evaluate(policy, caller_account, operation, arn)
        if decision is Decision.ALLOW:
            return
        raise access_denied(
            caller_account, operation, arn, explicit=decision is Decision.EXPLICIT_DENY
        )


def access_denied(
    caller_account: str, operation: str, arn: str, *, explicit: bool = False
) -> errors.KinesisError:
    """AWS's refusal of a caller of another account that no resource policy lets in."""
    why = (
        "with an explicit deny in a resource-based policy"
        if explicit
        else f"because no resource-based policy allows the kinesis:{operation} action"
    )
    return errors.AccessDeniedException(
        f"User: arn:aws:iam::{caller_account}:root is not authorized to perform:"
        f" kinesis:{operation} on resource: {arn} {why}"
    )


def _consumer_policy(stream: Stream | None, consumer_arn: str) -> str | None:
    if stream is None or stream.is_gone():
        return None
    for consumer in stream.live_consumers():
        if consumer.arn(stream.arn) == consumer_arn:
            return consumer.policy
    return None
