"""The DynamoDB lease table: a client from the standard AWS settings, and the table on demand.

The endpoint is boto3's own business (``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL``, or
``endpoint_url``); nothing here knows a local address. The table has the KCL's key schema (hash
key ``leaseKey``, a string) and on-demand billing, so it costs nothing while no worker runs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from shardflow.consumer.errors import SetupError

LEASE_KEY = "leaseKey"
ACTIVE_TIMEOUT_S = 300.0  # AWS creates an on-demand table in seconds; be patient, not forever
_PLACEHOLDER_REGION = "us-east-1"  # as the Kinesis client: a local endpoint needs no real region
_DENIED = {"AccessDeniedException", "UnrecognizedClientException", "AccessDenied"}


def dynamodb_client(
    *, endpoint_url: str | None = None, region: str | None = None, config: BotoConfig | None = None
) -> Any:
    """A DynamoDB client from the arguments and the standard AWS settings."""
    session = boto3.session.Session()
    endpoint = (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    region = (
        region
        or session.region_name
        or os.environ.get("AWS_REGION")
        or (_PLACEHOLDER_REGION if endpoint else None)
    )
    if not region:
        raise SetupError(
            "no AWS region for the lease table: pass --region, or set AWS_REGION"
            " (or a region in ~/.aws/config)"
        )
    extra: dict[str, str] = {}
    if endpoint and session.get_credentials() is None:
        # a local DynamoDB accepts any credentials; AWS itself gets the user's own
        extra = {"aws_access_key_id": "shardflow", "aws_secret_access_key": "shardflow"}
    return session.client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config, **extra
    )


def create_command(table: str) -> str:
    return (
        f"aws dynamodb create-table --table-name {table}"
        f" --attribute-definitions AttributeName={LEASE_KEY},AttributeType=S"
        f" --key-schema AttributeName={LEASE_KEY},KeyType=HASH --billing-mode PAY_PER_REQUEST"
    )


def _is_denied(exc: ClientError) -> bool:
    """AWS says AccessDeniedException; some local servers answer a bare 403."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return exc.response.get("Error", {}).get("Code") in _DENIED or status == 403


def _denied(exc: ClientError, table: str, action: str) -> SetupError:
    error = exc.response.get("Error", {})
    detail = str(error.get("Message") or exc)
    inner = re.search(r"<Message>(.*?)</Message>", detail)  # a 403 with an XML body
    detail = " ".join((inner.group(1) if inner else detail).split())[:300]
    return SetupError(
        f"may not {action} the DynamoDB lease table {table!r} ({error.get('Code')}: {detail})."
        f" Grant dynamodb:{action} on it, or have someone who may create it: "
        f"{create_command(table)}"
    )


def ensure_table(
    client: Any,
    table: str,
    *,
    timeout: float = ACTIVE_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Make sure ``table`` exists and is ACTIVE; create it if missing. True if this call made it."""
    created = False
    try:
        description = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if _is_denied(exc):
            raise _denied(exc, table, "DescribeTable") from None
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        description = _create(client, table)
        created = description is not None
    if description is not None:
        _check_schema(description, table)
    deadline = time.monotonic() + timeout
    while description is None or description.get("TableStatus") != "ACTIVE":
        if time.monotonic() > deadline:
            raise SetupError(f"the DynamoDB lease table {table!r} did not become ACTIVE")
        sleep(1.0)
        description = client.describe_table(TableName=table)["Table"]
    return created


def _create(client: Any, table: str) -> dict[str, Any] | None:
    """CreateTable; None when another worker is creating it at the same moment."""
    try:
        result: dict[str, Any] = client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": LEASE_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": LEASE_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]
        return result
    except ClientError as exc:
        if _is_denied(exc):
            raise _denied(exc, table, "CreateTable") from None
        if exc.response.get("Error", {}).get("Code") == "ResourceInUseException":
            return None
        raise


def _check_schema(description: dict[str, Any], table: str) -> None:
    keys = [(k["AttributeName"], k["KeyType"]) for k in description.get("KeySchema", [])]
    if keys != [(LEASE_KEY, "HASH")]:
        raise SetupError(
            f"the DynamoDB table {table!r} is not a lease table: its key is {keys},"
            f" a lease table's is only the hash key {LEASE_KEY!r}; choose another --lease-table"
        )
