"""Leases and checkpoints in a DynamoDB table laid out as the KCL lays out its lease table.

One item per shard: ``leaseKey`` (the shard id), ``leaseOwner``, ``leaseCounter``,
``checkpoint`` (a sequence number or a KCL sentinel: TRIM_HORIZON, LATEST, AT_TIMESTAMP,
SHARD_END), ``checkpointSubSequenceNumber``, ``ownerSwitchesSinceCheckpoint``, ``parentShardId``
(a string set), ``startingHashKey`` / ``endingHashKey``; an operator who knows the KCL reads it
as one of its own. Each write is one conditional UpdateItem on ``leaseCounter`` (and
``leaseOwner`` for an owner's writes) that raises the counter, so a worker that lost a lease
cannot touch it again.

A table serves one application reading one stream, as a KCL application's table does. Items also
carry ``shardflowScope`` (application, stream and its creation time): a table that holds another
stream's leases, or those of a stream since deleted and created again, is refused rather than
read with wrong checkpoints.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from shardflow.consumer.errors import (
    ConsumerError,
    EndpointUnreachable,
    ReadError,
    SetupError,
    error_code,
    is_retriable_code,
)
from shardflow.consumer.lease_table import LEASE_KEY, dynamodb_client, ensure_table
from shardflow.consumer.records import SHARD_END as SHARD_END_POSITION
from shardflow.consumer.records import Position
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.store import Lease

SCOPE = "shardflowScope"
SHARD_END = "SHARD_END"
# Where a shard without a checkpoint starts, as the KCL writes it. Reading one back gives "no
# checkpoint": the consumer's own ``start`` decides, as before.
START_SENTINELS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
# Short timeouts: a lease request stuck for longer than a lease is worthless, and the worker
# stops reading shards it could not renew in time anyway.
_CLIENT_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5
)


def _position(item: dict[str, Any]) -> Position | None:
    value = item.get("checkpoint", {}).get("S")
    if value is None or value in START_SENTINELS:
        return None
    sub = int(item.get("checkpointSubSequenceNumber", {}).get("N", "0"))
    if value == SHARD_END:
        return SHARD_END_POSITION
    return Position(int(value), sub)


def _lease(item: dict[str, Any]) -> Lease:
    return Lease(
        item[LEASE_KEY]["S"],
        item.get("leaseOwner", {}).get("S"),
        int(item.get("leaseCounter", {}).get("N", "0")),
        _position(item),
        tuple(sorted(item.get("parentShardId", {}).get("SS", []))),
        int(item.get("ownerSwitchesSinceCheckpoint", {}).get("N", "0")),
    )


def _text(attribute: dict[str, str] | None) -> str | None:
    """The string or number inside a DynamoDB attribute value; None when absent."""
    if attribute is None:
        return None
    return attribute.get("S", attribute.get("N"))


def _checkpoint_value(position: Position) -> str:
    return SHARD_END if position.is_shard_end else position.sequence_number


class DynamoDBCheckpointStore:
    """Leases in the DynamoDB table ``table``, created (on-demand billing) when missing.

    ``client`` defaults to one from the standard AWS settings (``AWS_ENDPOINT_URL_DYNAMODB`` for
    a local DynamoDB). ``initial_position`` is the sentinel written into new leases of shards
    without parents ("TRIM_HORIZON", "LATEST" or "AT_TIMESTAMP"); children get TRIM_HORIZON.
    ``calls`` counts the DynamoDB requests made, by purpose: describe_table (once), create
    (PutItem of a new lease), scan (a page of Scan), take, renew, checkpoint, release (UpdateItem).
    """

    def __init__(
        self,
        table: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        initial_position: str = "TRIM_HORIZON",
        create: bool = True,
    ) -> None:
        if initial_position not in START_SENTINELS:
            raise ValueError(f"initial_position must be one of {', '.join(START_SENTINELS)}")
        self.table = table
        self.initial_position = initial_position
        self._client = client or dynamodb_client(
            endpoint_url=endpoint_url, region=region, config=_CLIENT_CONFIG
        )
        self._create = create
        self._ready = False
        self._known: set[str] = set()  # lease keys seen in the table: no PutItem for them
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def _call(self, operation: str, purpose: str, **params: Any) -> dict[str, Any]:
        if not self._ready:
            self._prepare()
        self.calls[purpose] += 1
        try:
            result: dict[str, Any] = getattr(self._client, operation)(
                TableName=self.table, **params
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise
            raise self._error(exc) from exc
        except Exception as exc:
            raise self._error(exc) from exc
        return result

    def _prepare(self) -> None:
        with self._lock:
            if self._ready:
                return
            if self._create:
                self.calls["describe_table"] += 1
                try:
                    ensure_table(self._client, self.table)
                except ConsumerError:
                    raise
                except Exception as exc:
                    raise self._error(exc) from exc
            self._ready = True

    def _error(self, exc: BaseException) -> ConsumerError:
        """A DynamoDB failure as a consumer error naming the lease table."""
        where = f"the DynamoDB lease table {self.table!r} at {self._client.meta.endpoint_url}"
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
            return EndpointUnreachable(
                f"cannot reach {where}: check AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL)"
            )
        if isinstance(exc, NoCredentialsError):
            return SetupError(f"no AWS credentials for {where}: set them as for Kinesis")
        if isinstance(exc, ClientError):
            code = error_code(exc)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            return ReadError(
                f"{where}: {code}: {message}", code=code, retriable=is_retriable_code(code, status)
            )
        return ReadError(f"{where}: {type(exc).__name__}: {exc}")

    def _conditional(self, operation: str, purpose: str, **params: Any) -> dict[str, Any] | None:
        """A conditional write; None if its condition failed (someone else wrote first)."""
        try:
            return self._call(operation, purpose, **params)
        except ClientError as exc:  # only ConditionalCheckFailedException comes through
            assert error_code(exc) == "ConditionalCheckFailedException"
            return None

    # --- CheckpointStore -------------------------------------------------------------------

    def sync_shards(self, scope: str, shards: list[ShardInfo]) -> None:
        if not self._known:
            self.leases(scope)
        for shard in shards:
            if shard.shard_id in self._known:
                continue
            item: dict[str, Any] = {
                LEASE_KEY: {"S": shard.shard_id},
                "leaseCounter": {"N": "0"},
                "checkpoint": {"S": "TRIM_HORIZON" if shard.parents else self.initial_position},
                "checkpointSubSequenceNumber": {"N": "0"},
                "ownerSwitchesSinceCheckpoint": {"N": "0"},
                SCOPE: {"S": scope},
            }
            if shard.parents:
                item["parentShardId"] = {"SS": list(shard.parents)}
            if shard.hash_range is not None:
                item["startingHashKey"] = {"S": str(shard.hash_range[0])}
                item["endingHashKey"] = {"S": str(shard.hash_range[1])}
            self._conditional(
                "put_item",
                "create",
                Item=item,
                ConditionExpression=f"attribute_not_exists({LEASE_KEY})",
            )
            self._known.add(shard.shard_id)  # written now, or by another worker first

    def leases(self, scope: str) -> list[Lease]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self._call("scan", "scan", **params)
            items += page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        foreign = {i[SCOPE]["S"] for i in items if SCOPE in i and i[SCOPE]["S"] != scope}
        if foreign:
            raise SetupError(
                f"the DynamoDB lease table {self.table!r} holds the leases of"
                f" {', '.join(sorted(foreign))}, not of {scope}: a lease table serves one"
                " application and one stream (a stream created again is another stream);"
                " choose another --lease-table or delete the old table"
            )
        self._known = {i[LEASE_KEY]["S"] for i in items}
        return sorted((_lease(i) for i in items), key=lambda lease: lease.shard_id)

    def take(self, scope: str, seen: Lease, owner: str) -> Lease | None:
        switch = seen.switches_to(owner)
        try:
            result = self._call(
                "update_item",
                "take",
                Key={LEASE_KEY: {"S": seen.shard_id}},
                UpdateExpression="SET leaseOwner = :owner, leaseCounter = :next"
                + (" ADD ownerSwitchesSinceCheckpoint :one" if switch else ""),
                ConditionExpression="leaseCounter = :seen",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":seen": {"N": str(seen.counter)},
                    ":next": {"N": str(seen.counter + 1)},
                    **({":one": {"N": "1"}} if switch else {}),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:  # only ConditionalCheckFailedException comes through
            # botocore retries a request whose answer was lost, and the retry of a take that
            # had landed fails its condition: the item then holds this owner at the next
            # counter. A worker takes a lease once per counter, so that take was this one.
            item = exc.response.get("Item") or {}
            if item.get("leaseCounter", {}).get("N") == str(seen.counter + 1) and (
                item.get("leaseOwner", {}).get("S") == owner
            ):
                return _lease(item)
            return None
        return _lease(result["Attributes"])

    def _owner_update(
        self,
        purpose: str,
        shard_id: str,
        owner: str,
        counter: int,
        expression: str,
        values: dict[str, Any] | None = None,
        *,
        landed: dict[str, str | None] | None = None,
    ) -> int | None:
        """An owner's conditional write; the next counter, or None if the lease was lost.

        botocore retries a request whose answer was lost, and the retry of a write that had
        landed fails its condition. The item then shows what that write set (``landed``: the
        owner at the next counter, and the attributes the write sets): that was this write,
        since a worker writes a lease once per counter, so it still holds the lease.
        """
        try:
            self._call(
                "update_item",
                purpose,
                Key={LEASE_KEY: {"S": shard_id}},
                UpdateExpression=expression,
                ConditionExpression="leaseCounter = :seen AND leaseOwner = :owner",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":seen": {"N": str(counter)},
                    ":next": {"N": str(counter + 1)},
                    **(values or {}),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:  # only ConditionalCheckFailedException comes through
            item = exc.response.get("Item") or {}
            expected = {"leaseOwner": owner, **(landed or {})}
            if item.get("leaseCounter", {}).get("N") == str(counter + 1) and all(
                _text(item.get(name)) == value for name, value in expected.items()
            ):
                return counter + 1
            return None
        return counter + 1

    def renew(self, scope: str, shard_id: str, owner: str, counter: int) -> int | None:
        return self._owner_update("renew", shard_id, owner, counter, "SET leaseCounter = :next")

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> int | None:
        value, sub = _checkpoint_value(position), str(position.subsequence)
        return self._owner_update(
            "checkpoint",
            shard_id,
            owner,
            counter,
            "SET leaseCounter = :next, checkpoint = :seq, checkpointSubSequenceNumber = :sub,"
            " ownerSwitchesSinceCheckpoint = :zero"
            " REMOVE pendingCheckpoint, pendingCheckpointSubSequenceNumber",
            {":seq": {"S": value}, ":sub": {"N": sub}, ":zero": {"N": "0"}},
            landed={"checkpoint": value, "checkpointSubSequenceNumber": sub},
        )

    def release(self, scope: str, shard_id: str, owner: str, counter: int) -> bool:
        return (
            self._owner_update(
                "release",
                shard_id,
                owner,
                counter,
                "SET leaseCounter = :next REMOVE leaseOwner",
                landed={"leaseOwner": None},
            )
            is not None
        )

    def close(self) -> None:
        self._client.close()
