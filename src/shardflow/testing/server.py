"""``shardflow.testing.server()``: a fresh in-memory server for a test suite or a script.

with shardflow.testing.server() as s:
    client = s.client()            # boto3, bound to the server, dummy credentials
    os.environ.update(s.env())     # or hand s.env() to code under test / a subprocess
    s.reset()                      # drop every stream between tests
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable
from typing import Any, Literal

from shardflow.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, DEFAULT_SHARD_LIMIT, Config
from shardflow.model.stream_spec import StreamSpec, parse_stream_specs
from shardflow.testing.runners import ProcessRunner, ThreadRunner

Isolation = Literal["thread", "process"]
START_TIMEOUT_S = 30.0  # ready in well under a second; a loaded CI machine gets slack
# Dummy credentials: the server checks the Authorization header's shape, not the signature.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"


class ShardflowServer:
    """A running server: where it is, a client for it, its environment, and a reset."""

    def __init__(
        self,
        *,
        limits: bool = False,
        streams: Iterable[str | StreamSpec] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        shard_limit: int = DEFAULT_SHARD_LIMIT,
        create_stream_ms: int = 0,
        delete_stream_ms: int = 0,
        update_stream_ms: int = 0,
        isolation: Isolation = "thread",
    ) -> None:
        from shardflow.server.serve import claim_port

        self.region = region
        self.account_id = account_id
        self.host = host
        self.port = claim_port(host, port)  # 0: a free ephemeral port, resolved now
        self.limits = limits
        self.isolation = isolation
        self.streams = _specs(streams)
        self.endpoint_url = f"http://{host}:{self.port}"
        config = Config(
            host=host,
            port=self.port,
            in_memory=True,
            account_id=account_id,
            region=region,
            shard_limit=shard_limit,
            create_stream_ms=create_stream_ms,
            delete_stream_ms=delete_stream_ms,
            update_stream_ms=update_stream_ms,
            no_limits=not limits,
            create_streams=self.streams,
            log_level="warning",
        )
        self._runner: ThreadRunner | ProcessRunner
        if isolation == "thread":
            self._runner = ThreadRunner(config)
        elif isolation == "process":
            self._runner = ProcessRunner(_serve_args(config))
        else:
            raise ValueError("isolation is 'thread' or 'process'")

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> ShardflowServer:
        """Start, and return once the server answers (its streams are ACTIVE by then)."""
        self._runner.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        pause = 0.002
        while not self._answers():
            if not self._runner.alive():
                raise RuntimeError(f"shardflow did not start: {self._runner.describe_failure()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"shardflow did not answer within {START_TIMEOUT_S}s")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> ShardflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use --------------------------------------------------------------------

    def client(self, **kwargs: Any) -> Any:
        """A boto3 Kinesis client bound to this server; ``kwargs`` go to ``boto3.client``.

        Its session ignores AWS_PROFILE: a profile missing on a CI machine cannot break it.
        """
        import boto3
        import botocore.session

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        }
        options.update(kwargs)
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        return boto3.session.Session(botocore_session=core).client("kinesis", **options)

    def env(self) -> dict[str, str]:
        """The environment variables that point AWS SDKs and the AWS CLI at this server."""
        return {
            "AWS_ENDPOINT_URL_KINESIS": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def reset(self) -> int:
        """Drop every stream (records, consumers, tags and all); returns how many there were.

        The streams the server was started with are not recreated.
        """
        status, body = self._request("POST", "/_shardflow/reset")
        if status != 200:
            raise RuntimeError(f"reset failed: HTTP {status} {body!r}")
        return int(json.loads(body)["streams_dropped"])

    def _answers(self) -> bool:
        try:
            return self._request("GET", "/healthz", timeout=1.0)[0] == 200
        except OSError:
            return False

    def _request(self, method: str, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"<ShardflowServer {self.endpoint_url} ({self.isolation})>"


def server(**options: Any) -> ShardflowServer:
    """A server to use in ``with``: started on entry, stopped on exit (see ShardflowServer)."""
    return ShardflowServer(**options)


def _specs(streams: Iterable[str | StreamSpec]) -> tuple[StreamSpec, ...]:
    texts = [s for s in streams if isinstance(s, str)]
    given = [s for s in streams if isinstance(s, StreamSpec)]
    return (*given, *parse_stream_specs(texts))


def _serve_args(config: Config) -> list[str]:
    """The ``shardflow serve`` command line for ``config`` (the options ShardflowServer sets)."""
    args = ["--host", config.host, "--port", str(config.port), "--in-memory"]
    args += ["--account-id", config.account_id, "--region", config.region]
    args += ["--shard-limit", str(config.shard_limit), "--log-level", config.log_level]
    args += ["--create-stream-ms", str(config.create_stream_ms)]
    args += ["--delete-stream-ms", str(config.delete_stream_ms)]
    args += ["--update-stream-ms", str(config.update_stream_ms)]
    if config.no_limits:
        args.append("--no-limits")
    for spec in config.create_streams:
        args += ["--create-stream", f"{spec.name}:{spec.shards or ''}:{spec.mode}"]
    return args
