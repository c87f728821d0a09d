"""``shardflow queue``: create, list and delete Kinesis queues; receive (and tail) records,
acknowledge them, and inspect, restore or discard dead letters. Records print as JSON lines."""

from __future__ import annotations

import base64
import sys
from typing import Any

import click
import orjson
from botocore import exceptions as boto_exc

from shardflow.aws import ClientSetupError, kinesis_client
from shardflow.cli.tail import client_options
from shardflow.consumer.queue_consumer import QueueConsumer, QueueRecord


def _client(endpoint_url: str | None, region: str | None) -> Any:
    try:
        return kinesis_client(endpoint_url=endpoint_url, region=region)
    except ClientSetupError as exc:
        raise click.ClickException(str(exc)) from exc


def _queue_arn(client: Any, name_or_arn: str) -> str:
    """A queue's ARN from its ARN or its name (names are unique per account and Region)."""
    if ":queue/" in name_or_arn:
        return name_or_arn
    token = None
    while True:
        page = client.list_queues(**({"NextToken": token} if token else {}))
        for queue in page["QueueSummaries"]:
            if queue["QueueName"] == name_or_arn:
                return str(queue["QueueARN"])
        token = page.get("NextToken")
        if not token:
            raise click.ClickException(f"no queue named {name_or_arn}")


def _line(record: QueueRecord) -> str:
    try:
        data: Any = record.data.decode()
    except UnicodeDecodeError:
        data = {"base64": base64.b64encode(record.data).decode()}
    return orjson.dumps(
        {
            "RecordId": record.record_id,
            "ReceiptHandle": record.receipt_handle,
            "PartitionKey": record.partition_key,
            "Data": data,
            "ReceiveCount": record.receive_count,
            "ApproximateArrivalTimestamp": record.arrival.isoformat(),
        }
    ).decode()


@click.group()
def queue() -> None:
    """Kinesis queues: a server-tracked consumer of an ON_DEMAND stream (docs/queues.md)."""


@queue.command()
@click.argument("name")
@click.option("--stream", "stream_arn", required=True, metavar="ARN", help="The stream's ARN.")
@click.option(
    "--start",
    type=click.Choice(["LATEST", "TRIM_HORIZON"]),
    default="LATEST",
    show_default=True,
    help="Where delivery begins.",
)
@click.option("--visibility", type=click.IntRange(0, 43200), default=None, help="Seconds.")
@click.option(
    "--max-receive-count",
    type=click.IntRange(0, 1000),
    default=None,
    help="Receives before a record becomes a dead letter (0: no dead letters) [default: 6].",
)
@client_options
def create(
    name: str,
    stream_arn: str,
    start: str,
    visibility: int | None,
    max_receive_count: int | None,
    endpoint_url: str | None,
    region: str | None,
) -> None:
    """Create queue NAME on a stream; print its ARN."""
    client = _client(endpoint_url, region)
    attributes: dict[str, Any] = {}
    if visibility is not None:
        attributes["VisibilityTimeoutSeconds"] = visibility
    if max_receive_count == 0:
        attributes["DeadLetterConfiguration"] = {"TargetType": "NONE"}
    elif max_receive_count is not None:
        attributes["DeadLetterConfiguration"] = {
            "TargetType": "BUILT_IN",
            "MaxReceiveCount": max_receive_count,
        }
    try:
        out = client.create_queue(
            QueueName=name,
            StreamConfigurationList=[
                {"StreamARN": stream_arn, "StartingPosition": {"Type": start}}
            ],
            QueueAttributes=attributes,
        )
    except boto_exc.ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(out["QueueDescription"]["QueueARN"])


@queue.command(name="list")
@client_options
def list_queues(endpoint_url: str | None, region: str | None) -> None:
    """One line per queue: name, status, ARN, stream."""
    client = _client(endpoint_url, region)
    token = None
    while True:
        page = client.list_queues(**({"NextToken": token} if token else {}))
        for q in page["QueueSummaries"]:
            stream = q["Streams"][0]["StreamARN"]
            click.echo(f"{q['QueueName']}\t{q['QueueStatus']}\t{q['QueueARN']}\t{stream}")
        token = page.get("NextToken")
        if not token:
            return


@queue.command()
@click.argument("queue_name")
@client_options
def delete(queue_name: str, endpoint_url: str | None, region: str | None) -> None:
    """Delete a queue (by name or ARN)."""
    client = _client(endpoint_url, region)
    client.delete_queue(QueueARN=_queue_arn(client, queue_name))


@queue.command()
@click.argument("queue_name")
@click.option("--ack", is_flag=True, help="Acknowledge each record once printed.")
@click.option("--follow", "-f", is_flag=True, help="Keep receiving (tail) until interrupted.")
@click.option("--max-records", type=click.IntRange(1), default=None, help="Stop after N records.")
@click.option("--wait", type=click.IntRange(1, 20), default=1, show_default=True, help="Seconds.")
@client_options
def receive(
    queue_name: str,
    ack: bool,
    follow: bool,
    max_records: int | None,
    wait: int,
    endpoint_url: str | None,
    region: str | None,
) -> None:
    """Receive records and print them as JSON lines (with their receipt handles)."""
    client = _client(endpoint_url, region)
    consumer = QueueConsumer(_queue_arn(client, queue_name), client=client, wait_s=wait)
    seen = 0
    while max_records is None or seen < max_records:
        limit = 10 if max_records is None else min(10, max_records - seen)
        records = consumer.receive(limit)
        for record in records:
            click.echo(_line(record))
        seen += len(records)
        if ack and records:
            consumer.acknowledge(records)
        if not records and not follow:
            return


@queue.command(name="ack")
@click.argument("queue_name")
@click.argument("handles", nargs=-1)
@click.option("--dead-letters", is_flag=True, help="The handles are dead letters' handles.")
@client_options
def acknowledge(
    queue_name: str,
    handles: tuple[str, ...],
    dead_letters: bool,
    endpoint_url: str | None,
    region: str | None,
) -> None:
    """Acknowledge records by receipt handle (arguments, or one per line on stdin)."""
    client = _client(endpoint_url, region)
    arn = _queue_arn(client, queue_name)
    items = list(handles) or [line.strip() for line in sys.stdin if line.strip()]
    call = (
        client.acknowledge_dead_letter_queue_records
        if dead_letters
        else client.acknowledge_queue_records
    )
    failed = 0
    for start in range(0, len(items), 10):
        out = call(QueueARN=arn, Entries=[{"ReceiptHandle": h} for h in items[start : start + 10]])
        for f in out["Failed"]:
            failed += 1
            click.echo(
                f"{f['ReceiptHandle']}: {f['ErrorCode']}: {f.get('ErrorMessage', '')}", err=True
            )
    if failed:
        raise SystemExit(1)


@queue.command(name="dead-letters")
@click.argument("queue_name")
@click.option("--restore", is_flag=True, help="Put them back on the receive path.")
@click.option("--discard", is_flag=True, help="Acknowledge (forget) them.")
@click.option("--max-records", type=click.IntRange(1), default=None, help="Stop after N records.")
@client_options
def dead_letters(
    queue_name: str,
    restore: bool,
    discard: bool,
    max_records: int | None,
    endpoint_url: str | None,
    region: str | None,
) -> None:
    """Print the visible dead letters as JSON lines; optionally restore or discard them."""
    if restore and discard:
        raise click.UsageError("--restore and --discard exclude each other")
    client = _client(endpoint_url, region)
    consumer = QueueConsumer(_queue_arn(client, queue_name), client=client)
    seen = 0
    while max_records is None or seen < max_records:
        records = consumer.receive_dead_letters(
            10 if max_records is None else min(10, max_records - seen)
        )
        if not records:
            return
        for record in records:
            click.echo(_line(record))
        seen += len(records)
        if restore:
            consumer.restore(records)
        elif discard:
            consumer.discard(records)
