"""``shardflow demo``: the ingestion lab end to end, on this machine.

Starts a server (unless --endpoint-url names one), then runs the same commands a user would,
printing each before it runs. For each way of writing (ordered PutRecord calls into the lab's
``input-stream``, PutRecords batches, the producer library) it creates a stream, streams taxi
trips into it for a few seconds, reads everything back checking that every taxi's trips arrived in
order, and shows the stream's metrics (shard-level ones too: it enables enhanced monitoring on each
stream, which AWS leaves off by default). Each way writes to its own stream because each run numbers
its taxis' trips from 1.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import click

from shardflow.aws import kinesis_client
from shardflow.cli.create_stream import client_error_message

# (API, stream): the lab's stream for its PutRecord loop, one more per other way of writing.
RUNS = (
    ("put-record", "input-stream"),
    ("put-records", "input-stream-batched"),
    ("producer", "input-stream-producer"),
)
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "shardflow", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise click.ClickException(f"the server exited at start:\n{err}")
        try:
            with urllib.request.urlopen(endpoint + "/healthz", timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise click.ClickException(f"the server did not answer within {START_TIMEOUT_S:.0f} s")


def _run(args: list[str], endpoint: str, *, check: bool = True) -> int:
    """Run one shardflow command as a user would, showing it first."""
    shown = ["shardflow", *args, "--endpoint-url", endpoint]
    click.secho(f"\n$ {shlex.join(shown)}", bold=True)
    cmd = [sys.executable, "-m", "shardflow", *args, "--endpoint-url", endpoint]
    code = subprocess.call(cmd)
    if check and code != 0:
        raise click.ClickException(f"`{shlex.join(shown)}` failed (exit {code})")
    return code


def _enable_shard_metrics(stream: str, endpoint: str) -> None:
    """EnableEnhancedMonitoring (ALL) through the API, shown as the AWS CLI command it equals."""
    shown = ["aws", "kinesis", "enable-enhanced-monitoring", "--stream-name", stream]
    shown += ["--shard-level-metrics", "ALL", "--endpoint-url", endpoint]
    click.secho(f"\n$ {shlex.join(shown)}", bold=True, nl=False)
    click.echo("  # the same call, made here with boto3")
    try:
        client = kinesis_client(endpoint_url=endpoint)
        client.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    except Exception as exc:
        raise click.ClickException(client_error_message(exc, stream, None)) from None


@click.command()
@click.option("--endpoint-url", default=None, help="Use this server instead of starting one.")
@click.option("--seconds", default=4.0, show_default=True, help="How long each API writes.")
@click.option("--shards", default=4, show_default=True, help="Shards of input-stream.")
def demo(endpoint_url: str | None, seconds: float, shards: int) -> None:
    """Run the ingestion lab here: server, input-stream, three ways to write, read-back, metrics.

    The server enforces AWS's per-shard limits (1 MiB/s and 1,000 records/s per shard), so the
    faster modes meet throttling exactly as they would on AWS, and retry it.
    """
    proc = None
    tmp = None
    if endpoint_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="shardflow-demo-")
        proc, endpoint_url = _start_server(Path(tmp.name))
        click.secho(f"server: shardflow serve on {endpoint_url} (data in {tmp.name})", bold=True)
    try:
        failed = 0
        for api, stream in RUNS:
            _run(["create-stream", stream, "--shards", str(shards)], endpoint_url)
            _enable_shard_metrics(stream, endpoint_url)
            args = ["produce", "taxi", "--stream", stream, "--api", api]
            _run([*args, "--duration", str(seconds), "--seed", "7"], endpoint_url)
            failed += _run(["verify", stream], endpoint_url, check=False) != 0
            _run(["metrics", stream], endpoint_url, check=False)
        if proc is not None:
            click.echo(
                f"\nThe dashboard was at {endpoint_url}/dashboard; run `shardflow serve` and the"
                " commands above to keep it up."
            )
        if failed:
            raise click.ClickException(f"{failed} stream(s) failed verification (see above)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        if tmp is not None:
            tmp.cleanup()
