"""``shardflow serve``: every option maps to one Config field and a SHARDFLOW_* variable."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import click

from shardflow.config import (
    AUTH_MODES,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_HOST,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_STREAMS,
    DEFAULT_PORT,
    DEFAULT_REGION,
    DEFAULT_SHARD_LIMIT,
    DEFAULT_SUBSCRIBER_BUFFER_BYTES,
    DEFAULT_SUBSCRIBER_STALL_S,
    DURABILITY_MODES,
    HTTP1_FRONTS,
    Config,
    default_data_dir,
)
from shardflow.engine.faults import FaultPlan, FaultPlanError
from shardflow.model.stream_spec import StreamSpecError, parse_stream_specs
from shardflow.storage import datadir
from shardflow.storage.refusal import EXIT_CODE, DataDirError


@contextlib.contextmanager
def refusals(debug: bool) -> Iterator[None]:
    """A data-directory refusal ends the command with one line and exit code 2 (``--debug``:
    with its traceback first)."""
    try:
        yield
    except DataDirError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"shardflow: cannot start: {exc.line()}", err=True)
        sys.exit(EXIT_CODE)


@click.command(context_settings={"auto_envvar_prefix": "SHARDFLOW", "show_default": True})
@click.option("--host", default=DEFAULT_HOST, help="Address to bind.")
@click.option("--port", default=DEFAULT_PORT, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),  # checked by storage.datadir: a refusal in one line
    default=None,
    help=f"Where the database lives [default: {default_data_dir()}].",
)
@click.option("--in-memory", is_flag=True, help="Keep everything in RAM; nothing survives a stop.")
@click.option(
    "--durability",
    type=click.Choice(DURABILITY_MODES),
    default="process",
    help="memory: no syncs; process: survives kill -9; fsync: survives power loss.",
)
@click.option("--account-id", default=DEFAULT_ACCOUNT_ID, help="Account id in ARNs and errors.")
@click.option("--region", default=DEFAULT_REGION, help="Region in ARNs and errors.")
@click.option(
    "--shard-limit",
    default=DEFAULT_SHARD_LIMIT,
    type=click.IntRange(1),
    help="Account shard quota.",
)
@click.option(
    "--create-stream-ms", default=0, type=click.IntRange(0), help="CREATING lasts this long."
)
@click.option(
    "--delete-stream-ms", default=0, type=click.IntRange(0), help="DELETING lasts this long."
)
@click.option(
    "--update-stream-ms", default=0, type=click.IntRange(0), help="UPDATING lasts this long."
)
@click.option("--no-limits", is_flag=True, help="Do not enforce throughput limits (AWS's are on).")
@click.option(
    "--limits-scale",
    default=1.0,
    type=click.FloatRange(min=0, min_open=True),
    help="Multiply every throughput limit (0.1: a shard takes 100 records/s).",
)
@click.option(
    "--on-demand-window-s",
    default=60.0,
    type=click.FloatRange(min=1),
    help="ON_DEMAND streams double their shards after this long above half their capacity.",
)
@click.option(
    "--testing-subscription-max-s",
    "subscription_max_s",
    default=300.0,
    type=click.FloatRange(min=0, min_open=True),
    help="Testing clients only: end SubscribeToShard streams after this many seconds"
    " (AWS: 300), so that resubscription can be tested in seconds.",
)
@click.option(
    "--faults",
    default=None,
    metavar="JSON|@FILE",
    help="Inject errors and latency (a fault plan; see docs/faults.md). Off by default.",
)
@click.option(
    "--no-metrics",
    is_flag=True,
    help="Record no stream metrics (/metrics and the dashboard's charts stay empty).",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Serve HTTPS (HTTP/2 by ALPN) with a certificate from a local CA kept in DATA_DIR/tls.",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Serve HTTPS with this PEM certificate (chain) instead of the local CA's.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The PEM private key of --tls-cert.",
)
@click.option(
    "--create-stream",
    "create_streams",
    envvar="SHARDFLOW_CREATE_STREAM",
    multiple=True,
    metavar="NAME[:SHARDS[:MODE]]",
    help="Create this stream (1 shard unless SHARDS; MODE PROVISIONED or ON_DEMAND), ACTIVE"
    " before the server answers; repeatable, or several separated by commas.",
)
@click.option(
    "--max-header-bytes",
    default=DEFAULT_MAX_HEADER_BYTES,
    type=click.IntRange(8192, 16 * 1024 * 1024),
    help="Largest HTTP/1.1 request head or HTTP/2 header list (431 beyond it).",
)
@click.option(
    "--header-timeout-s",
    default=DEFAULT_HEADER_TIMEOUT_S,
    type=click.FloatRange(0.001, 60),
    help="An HTTP/1.1 request head must arrive within this (else the connection is closed).",
)
@click.option(
    "--idle-timeout-s",
    default=DEFAULT_IDLE_TIMEOUT_S,
    type=click.FloatRange(0),
    help="Close connections with no byte either way for this long (0: never).",
)
@click.option(
    "--body-timeout-s",
    default=DEFAULT_BODY_TIMEOUT_S,
    type=click.FloatRange(0.001),
    help="A request body must arrive within this (else 408 and the connection closes).",
)
@click.option(
    "--max-streams",
    default=DEFAULT_MAX_STREAMS,
    type=click.IntRange(1),
    help="Concurrent HTTP/2 streams per connection (REFUSED_STREAM beyond it).",
)
@click.option(
    "--http1-front",
    type=click.Choice(HTTP1_FRONTS),
    default="loop",
    help="Who parses cleartext HTTP/1.1: the event loop (fast) or granian's threads.",
)
@click.option(
    "--max-connections",
    default=DEFAULT_MAX_CONNECTIONS,
    type=click.IntRange(1),
    help="Connections held at once (lowered to fit RLIMIT_NOFILE); more wait in the backlog.",
)
@click.option(
    "--subscriber-buffer-bytes",
    default=DEFAULT_SUBSCRIBER_BUFFER_BYTES,
    type=click.IntRange(64 * 1024),
    help="SubscribeToShard bytes sent but not yet delivered before the stream pauses.",
)
@click.option(
    "--subscriber-stall-s",
    default=DEFAULT_SUBSCRIBER_STALL_S,
    type=click.FloatRange(0.1),
    help="A SubscribeToShard stream paused this long ends with an error event.",
)
@click.option(
    "--credentials",
    "credentials",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Access keys with their secrets and account ids (TOML or AWS credentials format).",
)
@click.option(
    "--auth",
    type=click.Choice(AUTH_MODES),
    default="off",
    help="verify: check every request's SigV4 signature against --credentials.",
)
@click.option(
    "--cors-origins",
    default=None,
    help="Origins browser pages may call from, comma-separated ('*': any; default '*' on"
    " a loopback bind, none otherwise; '' : none).",
)
@click.option(
    "--accept-data-loss",
    is_flag=True,
    help="Start read-only when acknowledged records are missing, instead of refusing to start.",
)
@click.option(
    "--s3-endpoint-url",
    default=None,
    help="S3 endpoint that channels deliver to (default: AWS_ENDPOINT_URL_S3, else AWS).",
)
@click.option(
    "--iceberg-warehouse",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the Iceberg tables channels write (default: DATA_DIR/iceberg).",
)
@click.option(
    "--channel-freshness-scale",
    default=1.0,
    type=click.FloatRange(min=0, min_open=True),
    help="Multiply channels' DataFreshnessInSeconds (0.01: 300 s becomes 3 s).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of a start-up refusal.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    help="Logging detail.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    in_memory: bool,
    durability: str,
    account_id: str,
    region: str,
    shard_limit: int,
    create_stream_ms: int,
    delete_stream_ms: int,
    update_stream_ms: int,
    no_limits: bool,
    limits_scale: float,
    on_demand_window_s: float,
    subscription_max_s: float,
    faults: str | None,
    no_metrics: bool,
    tls: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    create_streams: tuple[str, ...],
    max_header_bytes: int,
    header_timeout_s: float,
    idle_timeout_s: float,
    body_timeout_s: float,
    max_streams: int,
    http1_front: str,
    max_connections: int,
    subscriber_buffer_bytes: int,
    subscriber_stall_s: float,
    credentials: Path | None,
    auth: str,
    cors_origins: str | None,
    accept_data_loss: bool,
    s3_endpoint_url: str | None,
    iceberg_warehouse: Path | None,
    channel_freshness_scale: float,
    debug: bool,
    log_level: str,
) -> None:
    """Run the Kinesis-compatible server (HTTP/1.1 and HTTP/2 on one port; --tls for HTTPS)."""
    import uvloop

    from shardflow.server.serve import serve as run

    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not account_id.isdigit() or len(account_id) != 12:
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    plan = _fault_plan(faults) if faults else None
    _check_credentials(credentials, auth)
    try:
        initial_streams = parse_stream_specs(create_streams)
    except StreamSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--create-stream") from exc
    data_dir = data_dir or default_data_dir()
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together.")
    if tls and tls_cert is None:
        with refusals(debug):
            datadir.prepare(data_dir)  # 0700 before the CA's files go in
        from shardflow.cli.serve_tls import local_ca_certificate

        tls_cert, tls_key = local_ca_certificate(data_dir, host)
    config = Config(
        host=host,
        port=port,
        data_dir=data_dir,
        in_memory=in_memory,
        durability=durability,
        account_id=account_id,
        region=region,
        shard_limit=shard_limit,
        create_stream_ms=create_stream_ms,
        delete_stream_ms=delete_stream_ms,
        update_stream_ms=update_stream_ms,
        no_limits=no_limits,
        limits_scale=limits_scale,
        on_demand_window_s=on_demand_window_s,
        subscription_max_s=subscription_max_s,
        faults=plan,
        metrics=not no_metrics,
        log_level=log_level,
        tls_cert=tls_cert,
        tls_key=tls_key,
        create_streams=initial_streams,
        max_header_bytes=max_header_bytes,
        header_timeout_s=header_timeout_s,
        idle_timeout_s=idle_timeout_s,
        body_timeout_s=body_timeout_s,
        max_streams=max_streams,
        max_connections=max_connections,
        http1_front=http1_front,
        subscriber_buffer_bytes=subscriber_buffer_bytes,
        subscriber_stall_s=subscriber_stall_s,
        credentials=credentials,
        auth=auth,
        cors_origins=_origins(cors_origins),
        accept_data_loss=accept_data_loss,
        s3_endpoint_url=s3_endpoint_url,
        iceberg_warehouse=iceberg_warehouse,
        channel_freshness_scale=channel_freshness_scale,
    )
    try:
        with refusals(debug):
            uvloop.run(run(config))
    except StreamSpecError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}."
            " Is another server using the port? Try --port."
        ) from exc


def _fault_plan(text: str) -> FaultPlan:
    """A fault plan from JSON text, or from a file named as @PATH."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}") from exc
    try:
        return FaultPlan.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--faults") from exc
    except FaultPlanError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc


def _check_credentials(path: Path | None, auth: str) -> None:
    """A usage error now for an unusable credentials file, not a traceback at start-up."""
    from shardflow.server.credentials import Credentials, CredentialsError

    if auth == "verify" and path is None:
        raise click.UsageError("--auth verify needs --credentials FILE.")
    if path is not None:
        try:
            Credentials.load(path)
        except CredentialsError as exc:
            raise click.BadParameter(str(exc), param_hint="--credentials") from None


def _origins(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(o.strip() for o in text.split(",") if o.strip())
