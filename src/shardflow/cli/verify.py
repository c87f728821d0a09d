"""``shardflow verify STREAM``: read the stream from the trim horizon and say whether everything
arrived, in order per shard and per key. Exit 1 when order is broken or records are missing.

Per-key order is not required of a stream seen with RecordDistributionStrategy AUTO, which
spreads every key over all shards."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import orjson

from shardflow.cli.lease_table import checkpoint_store, lease_table_option
from shardflow.cli.tail import (
    client_options,
    fan_out_options,
    fan_out_settings,
    run_consumer,
    shard_id,
)
from shardflow.model.enums import RecordDistribution

PROGRESS_EVERY_S = 0.5
MAX_SHARD_ROWS = 16  # more shards than this are summarised, so the report fits a screen


class _Progress:
    """One self-overwriting line on stderr, only when it is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = self._last = time.monotonic()

    def update(self, records: int, behind: dict[str, int | None], force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < PROGRESS_EVERY_S):
            return
        self._last = now
        rate = records / max(now - self.started, 1e-9)
        lag = max((b for b in behind.values() if b is not None), default=0)
        line = (
            f"read {records:,} records, {rate:,.0f}/s,"
            f" {len(behind)} shards, {lag / 1000:.1f}s behind"
        )
        sys.stderr.write("\r" + line[:100].ljust(60))
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def _print_report(report: Any, elapsed: float) -> None:
    echo = click.echo
    field = report.counter_field or "-"
    key = report.key_field or "partition key"
    echo(
        f"{report.records:,} records in {elapsed:.1f}s from {len(report.shards)} shards,"
        f" {report.keys:,} keys (key: {key}, counter: {field})"
    )
    rows = list(report.shards.items())
    shown = rows if len(rows) <= MAX_SHARD_ROWS else rows[: MAX_SHARD_ROWS - 1]
    for shard, count in shown:
        flag = f"  {count.order_violations} sequence regressions" if count.order_violations else ""
        echo(f"  {shard}  {count.records:>10,}{flag}")
    if len(shown) < len(rows):
        rest = rows[len(shown) :]
        echo(f"  … {len(rest)} more shards, {sum(c.records for _, c in rest):,} records")
    if report.counter_field is None:
        echo("per-key order not checked: no counter field found; pass --counter-field NAME")
    elif report.unchecked:
        echo(f"{report.unchecked:,} records without a key or counter were not checked")
    if report.key_order:
        echo(f"order violations {report.order_violations:,}")
    else:
        echo(
            f"order violations {report.order_violations:,}"
            "  (not an error: AUTO record distribution keeps no key order)"
        )
    for line in report.violation_examples:
        echo(f"  {line}")
    echo(f"missing (gaps)   {report.missing:,}")
    for line in report.gap_examples:
        echo(f"  {line}")
    echo(f"duplicates       {report.duplicates:,}  (at-least-once resends; not an error)")
    for line in report.duplicate_examples[:3]:
        echo(f"  {line}")
    if report.keys_on_several_shards and report.key_order:
        echo(f"{report.keys_on_several_shards} keys were read from several shards (a reshard?)")
    if not report.ok:
        echo("BROKEN")
    elif report.key_order:
        echo("OK: every key in order, nothing missing")
    else:
        echo("OK: nothing missing")


@click.command()
@click.argument("stream")
@click.option(
    "--key-field",
    default=None,
    help="JSON field naming the key [default: taxiId if present, else the partition key].",
)
@click.option(
    "--counter-field",
    default=None,
    help="JSON field with the per-key counter [default: detected: taxiSeq, seq, counter …].",
)
@click.option("--shard", "shards", multiple=True, help="Only this shard (id or number); repeat.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@fan_out_options
@client_options
@lease_table_option
def verify(
    stream: str,
    key_field: str | None,
    counter_field: str | None,
    shards: tuple[str, ...],
    as_json: bool,
    fan_out: str | None,
    deregister: bool,
    endpoint_url: str | None,
    region: str | None,
    lease_table: str | None,
) -> None:
    """Read STREAM from the oldest record and check that nothing is missing or out of order.

    With --lease-table, read on from the table's checkpoints, sharing the shards with every
    process that names the same table.

    Exit status: 0 all in order; 1 order broken or records missing; 3 the stream could not be
    read.
    """
    from shardflow.consumer.verification import Verifier

    reading = fan_out_settings(fan_out, deregister)
    verifier = Verifier(key_field, counter_field)
    progress = _Progress()
    started = time.monotonic()
    strategies: set[str] = set()

    async def main() -> None:
        from shardflow.consumer import AsyncConsumer

        consumer = AsyncConsumer(
            stream,
            store=checkpoint_store(lease_table, region, "trim-horizon"),
            endpoint_url=endpoint_url,
            region=region,
            start="trim-horizon",
            shard_ids=tuple(shard_id(s) for s in shards) or None,
            stop_at_tip=True,
            **reading,
        )
        async with consumer:
            strategies.add(consumer.record_distribution)
            async for batch in consumer:
                for record in batch.records:
                    verifier.add(record)
                progress.update(verifier.records, consumer.millis_behind_latest)
            strategies.add(consumer.record_distribution)

    try:
        run_consumer(main())
    except KeyboardInterrupt:
        progress.done()
        click.echo("interrupted: the report covers what was read so far", err=True)
    progress.done()
    report = verifier.report(key_order=RecordDistribution.AUTO not in strategies)
    if as_json:
        click.echo(orjson.dumps(report.as_dict(), default=str).decode())
    else:
        _print_report(report, time.monotonic() - started)
    if not report.ok:
        sys.exit(1)
