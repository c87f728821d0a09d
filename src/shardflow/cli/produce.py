"""``shardflow produce taxi``: stream the lab's taxi trips with PutRecord, PutRecords or the
producer library, paced, with a live status line and a clean stop on Ctrl-C."""

from __future__ import annotations

import sys

import click

from shardflow.cli.create_stream import client_error_message, client_options
from shardflow.producer import ProducerConfig, ProducerError
from shardflow.workloads.runner import APIS, run_producer
from shardflow.workloads.taxi import DEFAULT_TAXIS, PARTITION_KEYS


@click.group()
def produce() -> None:
    """Write a workload to a stream."""


@produce.command()
@click.option("--stream", default="input-stream", show_default=True, help="Stream to write to.")
@click.option("--api", type=click.Choice(APIS), default="producer", show_default=True)
@click.option("--rate", type=float, default=None, help="Records per second [default: flat out].")
@click.option("--count", type=click.IntRange(0), default=None, help="Stop after this many.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--seed", type=int, default=None, help="Repeatable events.")
@click.option("--taxis", default=DEFAULT_TAXIS, show_default=True, type=click.IntRange(1))
@click.option(
    "--partition-key",
    type=click.Choice(PARTITION_KEYS),
    default="taxiId",
    show_default=True,
    help="Event field used as partition key (the lab used id, a random trip id).",
)
@click.option("--ordered/--unordered", default=True, show_default=True, help="producer API.")
@click.option("--aggregate/--no-aggregate", default=True, show_default=True, help="producer API.")
@click.option("--linger", default=0.1, show_default=True, help="producer API: seconds.")
@click.option("--verbose", "-v", is_flag=True, help="Print the lab's line for every record.")
@client_options
def taxi(
    stream: str,
    api: str,
    rate: float | None,
    count: int | None,
    duration: float | None,
    seed: int | None,
    taxis: int,
    partition_key: str,
    ordered: bool,
    aggregate: bool,
    linger: float,
    verbose: bool,
    endpoint_url: str | None,
    region: str | None,
) -> None:
    """Stream taxi-trip events into a stream (Ctrl-C stops after flushing)."""
    from shardflow.workloads.taxi import TaxiTrips

    tty = sys.stderr.isatty()

    def status(line: str) -> None:
        if tty:
            click.echo("\r" + line, nl=False, err=True)
        else:
            click.echo(line, err=True)

    try:
        summary = run_producer(
            stream,
            api=api,
            events=TaxiTrips(seed=seed, taxis=taxis, partition_key=partition_key),
            rate=rate,
            count=count,
            duration=duration,
            endpoint_url=endpoint_url,
            region=region,
            producer_config=ProducerConfig(ordered=ordered, aggregation=aggregate, linger=linger),
            verbose=verbose,
            echo=click.echo,
            status=None if verbose else status,
        )
    except (ProducerError, Exception) as exc:
        cause = exc.__cause__ if isinstance(exc, ProducerError) and exc.__cause__ else exc
        if tty and not verbose:
            click.echo(err=True)
        raise click.ClickException(client_error_message(cause, stream, region)) from None  # type: ignore[arg-type]
    if tty and not verbose:
        click.echo(err=True)
    click.echo(summary.line())
    if summary.failed:
        sys.exit(1)
