"""The pytest plugin: a Shardflow server and what a test needs to talk to it, as fixtures.

Loaded through the ``pytest11`` entry point and inert until a test asks for a fixture (nothing
starts, nothing is imported beyond this module). Every name starts with ``shardflow_`` so it
cannot clash with a suite's own ``server``, ``kinesis`` or ``stream`` fixtures.

    shardflow_server          session: the server (in memory, ephemeral port, AWS's limits off)
    shardflow_limited_server  session: a second server with AWS's limits on, started on first use
    shardflow_endpoint        the test's server URL (the limited one under the marker below)
    shardflow_kinesis         a boto3 Kinesis client bound to the test's server
    shardflow_stream          factory: shardflow_stream(shards=4) -> an ACTIVE stream's name,
                              deleted after the test
    shardflow_env             AWS_ENDPOINT_URL_KINESIS, region and dummy credentials set for
                              code under test that builds its own client

``@pytest.mark.shardflow_limits`` points a test's fixtures at the limited server;
``--shardflow-limits`` turns AWS's limits on for the session server itself. Under pytest-xdist
each worker starts its own server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from shardflow.model.enums import StreamMode

if TYPE_CHECKING:
    from shardflow.testing.server import ShardflowServer

LIMITS_MARKER = "shardflow_limits"
STREAM_WAIT = {"Delay": 0.05, "MaxAttempts": 600}  # ACTIVE at once unless CREATING is delayed


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shardflow", "Shardflow (a local Kinesis server)")
    group.addoption(
        "--shardflow-limits",
        action="store_true",
        default=False,
        help="shardflow_server enforces AWS's throughput limits (off by default).",
    )
    group.addoption(
        "--shardflow-isolation",
        choices=("thread", "process"),
        default="thread",
        help="Run the server in a thread of the test process (default) or as a subprocess.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LIMITS_MARKER}: the shardflow_* fixtures of this test use a server that enforces"
        " AWS's throughput limits",
    )


def _start(config: pytest.Config, *, limits: bool) -> Iterator[ShardflowServer]:
    from shardflow.testing.server import ShardflowServer

    isolation = config.getoption("shardflow_isolation")
    with ShardflowServer(limits=limits, isolation=isolation) as server:
        yield server


@pytest.fixture(scope="session")
def shardflow_server(pytestconfig: pytest.Config) -> Iterator[ShardflowServer]:
    """The session's server: in memory, on an ephemeral port, AWS's limits off unless
    ``--shardflow-limits``."""
    yield from _start(pytestconfig, limits=pytestconfig.getoption("shardflow_limits"))


@pytest.fixture(scope="session")
def shardflow_limited_server(pytestconfig: pytest.Config) -> Iterator[ShardflowServer]:
    """A server enforcing AWS's per-shard and control-plane limits, started on first use."""
    yield from _start(pytestconfig, limits=True)


@pytest.fixture
def _shardflow_test_server(request: pytest.FixtureRequest) -> ShardflowServer:
    """The server this test's fixtures talk to: the limited one under the marker."""
    limited = request.node.get_closest_marker(LIMITS_MARKER) is not None
    name = "shardflow_limited_server" if limited else "shardflow_server"
    server: ShardflowServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def shardflow_endpoint(_shardflow_test_server: ShardflowServer) -> str:
    """The URL of the test's server, for clients other than boto3 (the AWS CLI, Node.js)."""
    return _shardflow_test_server.endpoint_url


@pytest.fixture(scope="session")
def _shardflow_clients() -> dict[str, Any]:
    """One boto3 client per server for the session: building one takes tens of milliseconds."""
    return {}


@pytest.fixture
def shardflow_kinesis(
    _shardflow_test_server: ShardflowServer, _shardflow_clients: dict[str, Any]
) -> Any:
    """A boto3 Kinesis client bound to the test's server (botocore's default retries)."""
    url = _shardflow_test_server.endpoint_url
    if url not in _shardflow_clients:
        _shardflow_clients[url] = _shardflow_test_server.client()
    return _shardflow_clients[url]


@pytest.fixture
def shardflow_stream(shardflow_kinesis: Any) -> Iterator[Callable[..., str]]:
    """A factory of ACTIVE streams, each deleted after the test.

    ``shardflow_stream()`` gives a 1-shard stream with a fresh name; ``shardflow_stream(shards=4,
    name="orders")`` or ``shardflow_stream(mode="ON_DEMAND")`` what they say.
    """
    created: list[str] = []

    def create(
        shards: int = 1, *, name: str | None = None, mode: str = StreamMode.PROVISIONED
    ) -> str:
        stream = name or f"test-{uuid.uuid4().hex[:12]}"
        params: dict[str, Any] = {
            "StreamName": stream,
            "StreamModeDetails": {"StreamMode": mode},
        }
        if mode != StreamMode.ON_DEMAND:
            params["ShardCount"] = shards
        shardflow_kinesis.create_stream(**params)
        created.append(stream)
        shardflow_kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig=STREAM_WAIT
        )
        return stream

    yield create
    for stream in created:
        with contextlib.suppress(shardflow_kinesis.exceptions.ResourceNotFoundException):
            shardflow_kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)


@pytest.fixture
def shardflow_env(
    _shardflow_test_server: ShardflowServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point code under test at the server through the standard AWS environment variables.

    Settings that would send an SDK elsewhere or to real credentials (a profile, a session
    token, an instruction to ignore endpoint variables) are removed for the test.
    """
    for name in _CONFLICTING:
        monkeypatch.delenv(name, raising=False)
    env = _shardflow_test_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


_CONFLICTING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
