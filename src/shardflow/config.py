"""Server configuration: one value object; every CLI option maps to one field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from shardflow.engine.faults import FaultPlan
from shardflow.model.stream_spec import StreamSpec

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4567  # kinesalite's port: tools and tutorials expect it
DEFAULT_ACCOUNT_ID = "000000000000"  # what local emulators report; AWS errors name the account
DEFAULT_REGION = "us-east-1"
DEFAULT_SHARD_LIMIT = 500  # AWS's default shard quota per account and region
DEFAULT_ON_DEMAND_STREAM_LIMIT = 50  # AWS's default on-demand streams per account
# PutRecords carries up to 10 MiB of data, 13.4 MiB once base64-encoded in JSON, plus keys.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
DURABILITY_MODES = ("memory", "process", "fsync")
AUTH_MODES = ("off", "verify")
HTTP1_FRONTS = ("loop", "granian")  # who parses cleartext HTTP/1.1 (server.h1front)
# Connection limits (docs/operations.md): what a hostile or broken client may hold.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # an HTTP/1.1 head, or an HTTP/2 header list
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_IDLE_TIMEOUT_S = 60.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_MAX_STREAMS = 100  # concurrent HTTP/2 streams per connection
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_SUBSCRIBER_BUFFER_BYTES = 256 * 1024  # SubscribeToShard bytes sent, not delivered
DEFAULT_SUBSCRIBER_STALL_S = 30.0


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("shardflow"))


@dataclass(frozen=True, kw_only=True)
class Config:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    in_memory: bool = False
    durability: str = "process"
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = DEFAULT_REGION
    shard_limit: int = DEFAULT_SHARD_LIMIT
    on_demand_stream_limit: int = DEFAULT_ON_DEMAND_STREAM_LIMIT
    create_stream_ms: int = 0
    delete_stream_ms: int = 0
    update_stream_ms: int = 0
    no_limits: bool = False
    limits_scale: float = 1.0  # multiplies every throughput limit (engine.limits)
    on_demand_window_s: float = 60.0  # ON_DEMAND streams double after this long above half
    # Testing clients only: SubscribeToShard streams end after this long (AWS: 5 minutes).
    subscription_max_s: float = 300.0
    max_request_bytes: int = MAX_REQUEST_BYTES
    faults: FaultPlan | None = None  # fault injection, off by default (engine.faults)
    metrics: bool = True  # record stream metrics for /metrics and /dashboard (shardflow.metrics)
    log_level: str = "info"
    # Start read-only when acknowledged records are missing, instead of refusing to start.
    accept_data_loss: bool = False
    # HTTPS (HTTP/1.1 and HTTP/2 by ALPN) instead of cleartext: a PEM certificate and its key.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    create_streams: tuple[StreamSpec, ...] = ()  # ACTIVE before the port opens (serve.py)
    # Connection limits (server.serve, server.connections, docs/operations.md)
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S  # 0: never
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_streams: int = DEFAULT_MAX_STREAMS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    http1_front: str = "loop"  # "granian": cleartext HTTP/1.1 through granian's threads
    subscriber_buffer_bytes: int = DEFAULT_SUBSCRIBER_BUFFER_BYTES
    subscriber_stall_s: float = DEFAULT_SUBSCRIBER_STALL_S
    # Tenancy and authentication (server.identity, server.cors, docs/auth.md)
    credentials: Path | None = None  # access keys -> secrets and accounts (server.credentials)
    auth: str = "off"  # "verify": SigV4 checked against the credentials
    cors_origins: tuple[str, ...] | None = None  # None: "*" on a loopback bind, else none
    # Channels (docs/channels.md): the S3 endpoint of deliveries (None: botocore's, which reads
    # AWS_ENDPOINT_URL_S3), the Iceberg warehouse (None: <data dir>/iceberg), and a factor on
    # DataFreshnessInSeconds so that tests deliver in seconds.
    s3_endpoint_url: str | None = None
    iceberg_warehouse: Path | None = None
    channel_freshness_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {', '.join(DURABILITY_MODES)}")
        if self.shard_limit < 1:
            raise ValueError("shard limit must be at least 1")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a TLS certificate needs its key, and a key its certificate")
        if self.subscription_max_s <= 0:
            raise ValueError("subscription_max_s must be positive")
        if self.http1_front not in HTTP1_FRONTS:
            raise ValueError(f"http1_front must be one of {HTTP1_FRONTS}")
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}")
        if self.auth == "verify" and self.credentials is None:
            raise ValueError("--auth verify needs --credentials FILE (the keys to verify)")
        for name in ("create_stream_ms", "delete_stream_ms", "update_stream_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
