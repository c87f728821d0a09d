"""``shardflow tail STREAM``: print records as they arrive, until Ctrl-C.

Also home of what the consumer commands share: the client options and turning consumer errors
into one line that says what to do next.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import click
import orjson

from shardflow.cli.lease_table import checkpoint_store, lease_table_option

F = TypeVar("F", bound=Callable[..., Any])


def client_options(fn: F) -> F:
    """``--endpoint-url`` and ``--region``; without them, the standard AWS settings apply."""
    fn = click.option(
        "--region", default=None, help="AWS region [default: AWS_REGION or ~/.aws/config]."
    )(fn)
    fn = click.option(
        "--endpoint-url",
        default=None,
        metavar="URL",
        help="Kinesis endpoint, e.g. http://127.0.0.1:4567 [default: AWS_ENDPOINT_URL_KINESIS,"
        " else AWS].",
    )(fn)
    return fn


def fan_out_options(fn: F) -> F:
    """``--fan-out NAME`` (enhanced fan-out) and ``--deregister``."""
    fn = click.option(
        "--deregister",
        is_flag=True,
        help="With --fan-out: deregister the stream consumer when done (other readers using"
        " it stop receiving).",
    )(fn)
    fn = click.option(
        "--fan-out",
        "fan_out",
        default=None,
        metavar="NAME",
        help="Read with enhanced fan-out (SubscribeToShard) as stream consumer NAME,"
        " registered if missing and kept afterwards [default: GetRecords].",
    )(fn)
    return fn


def fan_out_settings(fan_out: str | None, deregister: bool) -> dict[str, Any]:
    """The consumer options of ``fan_out_options``."""
    if deregister and fan_out is None:
        raise click.UsageError("--deregister goes with --fan-out.")
    return {"fan_out": fan_out, "deregister_on_close": deregister}


class CannotRead(click.ClickException):
    """The stream could not be read: exit 3, apart from 1 (verify found a problem) and 2 (usage)."""

    exit_code = 3


def run_consumer(coro: Any) -> Any:
    """Run a consumer coroutine; consumer errors become one line saying what to do next."""
    from shardflow.consumer import ConsumerError

    try:
        return asyncio.run(coro)
    except ConsumerError as exc:
        raise CannotRead(str(exc)) from None


def shard_id(text: str) -> str:
    """``3`` or ``shardId-000000000003``."""
    return f"shardId-{int(text):012d}" if text.isdigit() else text


def parse_start(text: str) -> str | datetime:
    if text in ("trim-horizon", "latest"):
        return text
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "use trim-horizon, latest, an ISO 8601 time (2026-01-31T12:00:00Z) or epoch seconds",
            param_hint="--from",
        ) from None
    return stamp if stamp.tzinfo else stamp.astimezone()


def _data_value(data: bytes) -> tuple[str, Any]:
    try:
        return "data", orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return "text", data.decode("utf-8")
    except UnicodeDecodeError:
        return "dataBase64", base64.b64encode(data).decode()


def _as_json(record: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "shard": record.shard_id,
        "sequenceNumber": record.sequence_number,
    }
    if record.aggregated:
        out["subsequenceNumber"] = record.subsequence_number
    out["partitionKey"] = record.partition_key
    if record.approximate_arrival_timestamp is not None:
        out["arrival"] = record.approximate_arrival_timestamp.isoformat(timespec="milliseconds")
    name, value = _data_value(record.data)
    out[name] = value
    return out


class Printer:
    """Writes records in one of the formats; knows whether stdout is a terminal."""

    def __init__(self, fmt: str, out: Any = None) -> None:
        self.fmt = fmt
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.width = shutil.get_terminal_size((100, 24)).columns

    def write(self, record: Any) -> None:
        if self.fmt == "raw":
            buffer = getattr(self.out, "buffer", None)
            if buffer is not None:
                buffer.write(record.data + b"\n")
            else:
                self.out.write(record.data.decode("utf-8", "replace") + "\n")
        elif self.fmt == "json":
            option = orjson.OPT_INDENT_2 if self.tty else 0
            self.out.write(orjson.dumps(_as_json(record), option=option).decode() + "\n")
        else:
            self.out.write(self._line(record) + "\n")
        self.out.flush()

    def _line(self, record: Any) -> str:
        stamp = record.approximate_arrival_timestamp
        when = stamp.astimezone().strftime("%H:%M:%S.%f")[:-3] if stamp else "--:--:--.---"
        shard = record.shard_id.removeprefix("shardId-").lstrip("0") or "0"
        seq = record.sequence_number[-8:]
        if record.aggregated:
            seq += f"/{record.subsequence_number}"
        name, value = _data_value(record.data)
        body = orjson.dumps(value).decode() if name == "data" else str(value)
        line = f"{when} {shard:>3} …{seq} {record.partition_key} {body}"
        if self.tty and len(line) > self.width:
            line = line[: self.width - 1] + "…"
        return line


def exit_without_joining(code: int) -> NoReturn:
    """Exit now, once the consumer has closed (checkpoints written, leases handed back).

    A GetRecords call may still be in flight in one of the consumer's worker threads, its answer
    no longer wanted; a normal exit joins every such thread, so Ctrl-C waited until the server
    answered: up to botocore's 60 s read timeout with a stalled or starved server (over 10 s was
    seen on a loaded machine). ``os._exit`` skips that join; the output is flushed first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


@click.command()
@click.argument("stream")
@click.option(
    "--from",
    "start",
    default="latest",
    show_default=True,
    metavar="trim-horizon|latest|TIME",
    help="Where to begin: the oldest record, new records only, or an ISO 8601 / epoch time.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "line", "raw"]),
    default="json",
    show_default=True,
    help="json: one object per record (indented on a terminal); line: one short line; "
    "raw: the data bytes.",
)
@click.option("--shard", "shards", multiple=True, help="Only this shard (id or number); repeat.")
@click.option("--max-records", type=click.IntRange(1), default=None, help="Stop after N records.")
@fan_out_options
@client_options
@lease_table_option
def tail(
    stream: str,
    start: str,
    fmt: str,
    shards: tuple[str, ...],
    max_records: int | None,
    fan_out: str | None,
    deregister: bool,
    endpoint_url: str | None,
    region: str | None,
    lease_table: str | None,
) -> None:
    """Print the records of STREAM as they arrive, until Ctrl-C."""
    begin = parse_start(start)
    reading = fan_out_settings(fan_out, deregister)
    printer = Printer(fmt)
    seen = {"records": 0}

    async def main() -> None:
        from shardflow.consumer import AsyncConsumer

        consumer = AsyncConsumer(
            stream,
            store=checkpoint_store(lease_table, region, begin),
            endpoint_url=endpoint_url,
            region=region,
            start=begin,
            shard_ids=tuple(shard_id(s) for s in shards) or None,
            idle_interval=0.5,
            **reading,
        )
        async with consumer:
            if sys.stderr.isatty():
                where = ", ".join(consumer.owned_shards)
                click.echo(f"tailing {stream} ({where}) from {start}; Ctrl-C stops", err=True)
            async for record in consumer.records():
                printer.write(record)
                seen["records"] += 1
                if max_records is not None and seen["records"] >= max_records:
                    # Done in the middle of a batch: a lease table's checkpoint goes here,
                    # not to the batch's end (the rest is for the next reader).
                    await consumer.checkpoint(record)
                    await consumer.close(processed_last=False)
                    return

    try:
        run_consumer(main())
    except KeyboardInterrupt:
        click.echo(f"\n{seen['records']} records", err=True)
        exit_without_joining(0)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (tail | head): stop quietly
