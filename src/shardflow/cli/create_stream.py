"""``shardflow create-stream NAME --shards N``: create a stream if missing; wait until ACTIVE."""

from __future__ import annotations

import time
from typing import Any

import click
from botocore import exceptions as boto_exc

from shardflow.aws import ClientSetupError, kinesis_client
from shardflow.model.enums import StreamStatus

ACTIVE_TIMEOUT_S = 300.0  # AWS creates a stream in well under a minute; resharding takes longer


def ensure_stream(client: Any, name: str, shards: int, timeout: float = ACTIVE_TIMEOUT_S) -> bool:
    """Create ``name`` with ``shards`` shards unless it exists; wait for ACTIVE.

    Returns True if this call created it. An existing stream is left as it is, whatever its
    shard count (creating is idempotent, not a reshard).
    """
    created = True
    try:
        client.create_stream(StreamName=name, ShardCount=shards)
    except client.exceptions.ResourceInUseException:
        created = False
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        status = summary["StreamStatus"]
        if status == StreamStatus.ACTIVE:
            return created
        if status == StreamStatus.DELETING:
            raise click.ClickException(f"stream {name} is being deleted; try again when it is gone")
        if time.monotonic() > deadline:
            raise click.ClickException(f"stream {name} still {status} after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(1.0, delay * 2)


def client_error_message(exc: Exception, stream: str, region: str | None) -> str:
    """One line saying what went wrong and what to do, for the errors users actually hit."""
    if isinstance(exc, ClientSetupError):
        return str(exc)
    if isinstance(exc, boto_exc.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "ResourceNotFoundException":
            return (
                f"stream {stream} not found"
                + (f" in region {region}" if region else "")
                + f": create it with `shardflow create-stream {stream} --shards N`, "
                "or check --region and --endpoint-url"
            )
        return f"{code}: {message}"
    if isinstance(exc, boto_exc.EndpointConnectionError):
        return f"cannot reach the endpoint ({exc}): is the server running? check --endpoint-url"
    if isinstance(exc, boto_exc.NoCredentialsError):
        return "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
    if isinstance(exc, boto_exc.BotoCoreError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def client_options(fn: Any) -> Any:
    """--endpoint-url and --region, shared by every client command."""
    fn = click.option(
        "--region",
        default=None,
        help="AWS region [default: AWS_REGION / AWS_DEFAULT_REGION / ~/.aws/config].",
    )(fn)
    fn = click.option(
        "--endpoint-url",
        default=None,
        help="Kinesis endpoint [default: AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL / AWS].",
    )(fn)
    return fn


@click.command("create-stream")
@click.argument("name")
@click.option("--shards", default=1, show_default=True, type=click.IntRange(1), help="Shards.")
@click.option("--timeout", default=ACTIVE_TIMEOUT_S, show_default=True, help="Seconds to wait.")
@client_options
def create_stream(
    name: str, shards: int, timeout: float, endpoint_url: str | None, region: str | None
) -> None:
    """Create stream NAME unless it exists, and wait until it is ACTIVE."""
    try:
        client = kinesis_client(endpoint_url=endpoint_url, region=region)
        created = ensure_stream(client, name, shards, timeout)
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(client_error_message(exc, name, region)) from None
    click.echo(f"stream {name} {'created' if created else 'exists'}; ACTIVE")
