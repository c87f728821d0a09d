"""The ``shardflow`` command line.

Each command's module is imported when that command runs: ``shardflow serve`` then never loads
boto3 or the producer, which took a fifth of its start-up time (docs/testing.md).
"""

from __future__ import annotations

import importlib

import click

from shardflow import __version__

# name -> "module:attribute" of the click command
COMMANDS = {
    "serve": "shardflow.cli.serve:serve",
    "demo": "shardflow.cli.demo:demo",
    "tail": "shardflow.cli.tail:tail",
    "verify": "shardflow.cli.verify:verify",
    "metrics": "shardflow.cli.metrics:metrics",
    "create-stream": "shardflow.cli.create_stream:create_stream",
    "produce": "shardflow.cli.produce:produce",
    "check-data": "shardflow.cli.check_data:check_data",
    "queue": "shardflow.cli.queue:queue",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use (and for --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="shardflow")
def main() -> None:
    """Amazon Kinesis Data Streams on one machine, and tools to write to and read from it."""
