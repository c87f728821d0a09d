"""``shardflow metrics STREAM``: a stream's figures as a table, read from CloudWatch.

The figures come from CloudWatch's API (GetMetricData, ListMetrics; namespace AWS/Kinesis) and the
stream's description from Kinesis, both built from the standard AWS settings, so the same command
reads a Shardflow server (which answers CloudWatch on its Kinesis port) or AWS itself.
``--endpoint-url`` (or ``AWS_ENDPOINT_URL_KINESIS``) serves for CloudWatch too unless
``AWS_ENDPOINT_URL_CLOUDWATCH`` is set.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from shardflow.aws import (
    ClientSetupError,
    cloudwatch_client,
    cloudwatch_endpoint,
    endpoint_override,
    kinesis_client,
)
from shardflow.cli.metrics_reader import RANGES, NoSuchStream, read
from shardflow.metrics.table import AVERAGE, CONSUMER_METRICS, QUEUE_METRICS, SHARD_METRICS

WATCH_INTERVAL_S = 1.0
TIMEOUT_S = 5.0
# The AWS CLI command that turns on every shard-level metric (enhanced monitoring).
ENABLE_COMMAND = (
    "aws kinesis enable-enhanced-monitoring --stream-name {stream} --shard-level-metrics ALL"
)
# Columns of the shard and consumer tables: the table's metrics of each level, with their labels.
_SHOWN_SHARD_METRICS = tuple((m.name, m.column) for m in SHARD_METRICS)
# Enhanced fan-out figures per registered consumer (SubscribeToShard).
_SHOWN_CONSUMER_METRICS = tuple((m.name, m.column) for m in CONSUMER_METRICS)
# Kinesis queues: counts over the range, and the latest sample of the sampled depths.
_SHOWN_QUEUE_METRICS = tuple((m.name, m.column, m.statistic == AVERAGE) for m in QUEUE_METRICS)
LATEST_WITHIN = 5  # intervals: an older sample (a deleted queue's) is not the latest


def fetch(kinesis: Any, cloudwatch: Any, stream: str, range_name: str) -> dict[str, Any]:
    """The stream's series and totals, with every failure turned into a one-line message."""
    where = cloudwatch.meta.endpoint_url
    try:
        return read(kinesis, cloudwatch, stream, range_name)
    except NoSuchStream:
        raise click.ClickException(f"{where}: no stream named {stream}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        operation = exc.operation_name
        raise click.ClickException(
            f"{operation} failed: {error.get('Code', '?')}: {error.get('Message', '')}"
        ) from None
    except BotoCoreError as exc:
        raise click.ClickException(f"cannot read the metrics: {exc}") from None


def _window(values: list[float | None], statistic: str, last: int) -> float | None:
    """The statistic over the last ``last`` points (an average of averages is close enough)."""
    window = [v for v in values[-last:] if v is not None]
    if statistic == "Sum":
        return sum(window)
    if not window:
        return None
    return max(window) if statistic == "Maximum" else sum(window) / len(window)


def _fmt(value: float | None, unit: str, statistic: str = "") -> str:
    if value is None:
        return "-"
    if unit == "Count" and statistic == "Average":  # the .Success shares, 0 to 1
        return f"{value * 100:.1f} %"
    if unit == "Milliseconds":
        return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "Bytes":
        size = float(value)
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(size) < 1024 or suffix == "GiB":
                return f"{size:,.0f} {suffix}" if suffix == "B" else f"{size:,.1f} {suffix}"
            size /= 1024
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _latest(values: list[float | None]) -> float | None:
    recent = [v for v in values[-LATEST_WITHIN:] if v is not None]
    return recent[-1] if recent else None


def _queue_lines(queues: dict[str, Any], range_name: str) -> list[str]:
    """The queue table, one row per queue by name (keys are "<queue id>/<queue name>")."""
    rows: list[tuple[str, ...]] = [("queue", *[label for _, label, _ in _SHOWN_QUEUE_METRICS])]
    for key in sorted(queues, key=lambda k: (k.partition("/")[2], k)):
        metrics = queues[key]
        cells = [
            _fmt(_latest(metrics[name]["values"]) if sampled else metrics[name]["total"], "Count")
            for name, _, sampled in _SHOWN_QUEUE_METRICS
        ]
        rows.append((key.partition("/")[2], *cells))
    title = f"queues over {range_name} (visible, in flight, dead: the latest sample)"
    return ["", title, "", *_table(rows, right_from=1)]


def render(body: dict[str, Any], endpoint: str | None = None) -> str:
    """The stream table, the shard table (the enabled shard-level metrics), the consumer table
    (enhanced fan-out) and the queue table (Kinesis queues, when the stream has some), as text."""
    range_name = body["range"]
    step = body["step_s"]
    last_col, minute_col = ("last 1 min", "last 1 h") if step == 60 else ("last 1 s", "last 1 min")
    summary = body.get("summary")
    head = f"{body['stream']}"
    if summary:
        closed = f" ({summary['closed_shards']} closed)" if summary["closed_shards"] else ""
        head += (
            f"  {summary['status']} · {summary['mode']} · {summary['open_shards']} open"
            f" shards{closed} · retention {summary['retention_hours']} h"
        )
    else:
        head += "  (deleted)"
    rows: list[tuple[str, ...]] = [("metric", "statistic", last_col, minute_col, range_name)]
    for name, metric in body["metrics"].items():
        values = metric["values"]
        rows.append(
            (
                name,
                metric["statistic"],
                _fmt(_window(values, metric["statistic"], 1), metric["unit"], metric["statistic"]),
                _fmt(_window(values, metric["statistic"], 60), metric["unit"], metric["statistic"]),
                _fmt(metric["total"], metric["unit"], metric["statistic"]),
            )
        )
    lines = [head, "", *_table(rows, right_from=2)]
    enabled = body.get("shard_level_metrics", [])
    shown = [(name, label) for name, label in _SHOWN_SHARD_METRICS if name in enabled]
    if shown and body["shards"]:
        shard_rows: list[tuple[str, ...]] = [("shard", *[label for _, label in shown])]
        for shard, metrics in body["shards"].items():
            shard_rows.append(
                (shard, *[_fmt(metrics[name]["total"], metrics[name]["unit"]) for name, _ in shown])
            )
        lines += ["", f"shards over {range_name} (enhanced monitoring)", ""]
        lines += _table(shard_rows, right_from=1)
    consumers = body.get("consumers") or {}
    if consumers:
        consumer_rows: list[tuple[str, ...]] = [
            ("consumer", *[label for _, label in _SHOWN_CONSUMER_METRICS])
        ]
        for consumer, metrics in consumers.items():
            cells = [
                _fmt(metrics[name]["total"], metrics[name]["unit"], metrics[name]["statistic"])
                for name, _ in _SHOWN_CONSUMER_METRICS
            ]
            consumer_rows.append((consumer, *cells))
        lines += ["", f"enhanced fan-out consumers over {range_name} (SubscribeToShard)", ""]
        lines += _table(consumer_rows, right_from=1)
    if body.get("queues"):
        lines += _queue_lines(body["queues"], range_name)
    if summary and len(shown) < len(_SHOWN_SHARD_METRICS):
        command = ENABLE_COMMAND.format(stream=body["stream"])
        if endpoint:
            command += f" --endpoint-url {endpoint}"
        if shown:
            what = f"shard-level metrics enabled: {', '.join(enabled)}; enable all with:"
        else:
            what = "no shard-level metrics are enabled (enhanced monitoring); enable them with:"
        lines += ["", what, f"  {command}"]
    lines += ["", f"{range_name} column: whole range including the second in progress"]
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]], right_from: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i >= right_from else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


@click.command()
@click.argument("stream")
@click.option(
    "--endpoint-url",
    default=None,
    help="Kinesis (and CloudWatch) endpoint [env AWS_ENDPOINT_URL_KINESIS;"
    " AWS_ENDPOINT_URL_CLOUDWATCH for CloudWatch's own].",
)
@click.option(
    "--range",
    "range_name",
    type=click.Choice(list(RANGES)),
    default="5m",
    show_default=True,
    help="Time range of the last column (1d is read at 1 min resolution).",
)
@click.option("--watch", is_flag=True, help="Refresh every second until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead.")
def metrics(
    stream: str, endpoint_url: str | None, range_name: str, watch: bool, as_json: bool
) -> None:
    """Print a stream's metrics (CloudWatch's AWS/Kinesis) as a table."""
    endpoint = endpoint_override(endpoint_url)
    config = BotoConfig(
        connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, retries={"total_max_attempts": 2}
    )
    try:
        kinesis = kinesis_client(endpoint_url=endpoint_url, config=config)
        cloudwatch = cloudwatch_client(
            endpoint_url=cloudwatch_endpoint(endpoint_url), config=config
        )
    except ClientSetupError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        while True:
            body = fetch(kinesis, cloudwatch, stream, range_name)
            text = json.dumps(body) if as_json else render(body, endpoint)
            if watch:
                click.clear()
                shown = endpoint or "AWS"
                click.echo(f"{shown}  {time.strftime('%H:%M:%S')}  (Ctrl-C to stop)\n")
            click.echo(text)
            if not watch:
                return
            time.sleep(WATCH_INTERVAL_S)
    except KeyboardInterrupt:
        return
