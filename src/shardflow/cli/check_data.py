"""``shardflow check-data``: check a data directory (server stopped), optionally repair it.

Exit codes: 0 whole (or repaired), 1 damage found (and not repaired), 2 nothing could be checked
(not a data directory, not a database).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from shardflow.config import default_data_dir
from shardflow.storage.check import Report, ShardReport, check
from shardflow.storage.refusal import EXIT_CODE, DataDirError
from shardflow.storage.repair import repair

EXIT_WHOLE = 0
EXIT_DAMAGED = 1


@click.command("check-data", context_settings={"auto_envvar_prefix": "SHARDFLOW"})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=f"The data directory to check [default: {default_data_dir()}].",
)
@click.option(
    "--repair",
    "do_repair",
    is_flag=True,
    help="Move damaged shard tails aside, rebuild the database if needed, accept lost records.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
def check_data(data_dir: Path | None, do_repair: bool, debug: bool) -> None:
    """Check a data directory: SQLite's integrity check, every record's checksum, and the
    acknowledged records against what is stored. Run it while the server is stopped."""
    directory = data_dir or default_data_dir()
    try:
        report = check(directory)
        click.echo(render(report))
        if not report.damaged:
            sys.exit(EXIT_WHOLE)
        if not do_repair:
            click.echo("damage found: `shardflow check-data --repair` moves it aside")
            sys.exit(EXIT_DAMAGED)
        done = repair(directory, report)
        for action in done.actions:
            click.echo(f"repaired: {action}")
        after = check(directory)
        if after.damaged:
            click.echo(render(after))
            click.echo("damage remains after repair: restore the data directory from a backup")
            sys.exit(EXIT_DAMAGED)
        click.echo(f"repaired; what was done is recorded in {done.aside / 'repair.txt'}")
    except DataDirError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"shardflow: cannot check: {exc.line()}", err=True)
        sys.exit(EXIT_CODE)


def render(report: Report) -> str:
    """The report: one line per shard, then SQLite's and the log's complaints."""
    lines = [f"{report.path}:"]
    for shard in sorted(report.shards, key=lambda s: (s.stream, s.shard_id)):
        lines.append("  " + _shard_line(shard))
    for problem in report.problems:
        lines.append(f"  problem: {problem}")
    verdict = "DAMAGED" if report.damaged else "whole"
    lines.append(f"  {verdict}: {len(report.shards)} shards, {len(report.problems)} problems")
    return "\n".join(lines)


def _shard_line(shard: ShardReport) -> str:
    text = f"stream {shard.stream} {shard.shard_id}: {shard.records} records whole"
    if shard.unverified:
        text += f" ({shard.unverified} written before checksums, not verifiable)"
    if shard.damaged_from is not None:
        text += f"; DAMAGED from position {shard.damaged_from}: {shard.damage}"
    if shard.missing:
        about = "" if shard.missing_exact else "about "
        text += (
            f"; {about}{shard.missing} acknowledged records MISSING"
            f" (acknowledged up to position {shard.acked_position})"
        )
    return text
