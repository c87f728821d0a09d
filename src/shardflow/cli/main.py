"""The ``shardflow`` command line."""

from __future__ import annotations

import click

from shardflow import __version__
from shardflow.cli.check_data import check_data
from shardflow.cli.create_stream import create_stream
from shardflow.cli.demo import demo
from shardflow.cli.metrics import metrics
from shardflow.cli.produce import produce
from shardflow.cli.serve import serve
from shardflow.cli.tail import tail
from shardflow.cli.verify import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="shardflow")
def main() -> None:
    """Amazon Kinesis Data Streams on one machine, and tools to write to and read from it."""


main.add_command(serve)
main.add_command(demo)
main.add_command(tail)
main.add_command(verify)
main.add_command(metrics)
main.add_command(create_stream)
main.add_command(produce)
main.add_command(check_data)
