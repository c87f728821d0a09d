"""Test fixtures: a real Shardflow server over HTTP, and boto3 clients pointed at it.

Set ``SHARDFLOW_TEST_ENDPOINT=http://127.0.0.1:PORT`` to run the suite against another endpoint
(a peer emulator, or anything speaking Kinesis) instead of a server started here: the suite is a
conformance oracle, not just a unit test of this code base.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config as BotoConfig

from shardflow.api.registry import HANDLERS
from tests.support import ServerProcess, server_of_its_own

REGION = "us-east-1"


# The files that take longest (seconds of setup + tests, summed from a `--junitxml` run on the
# 2-core machine), longest first. Under `--dist loadfile --no-loadscope-reorder` (make test) a
# worker takes the next file in collection order, so these start first and the quick files fill
# in behind them, instead of one long file gating the end of the run. Re-measure when a file
# grows: `pytest -n 2 --dist loadfile --junitxml=out.xml`, then sum the times per file.
LONGEST_FILES = (
    "tests/test_demo.py",
    "tests/consumer/test_fanout.py",
    "tests/consumer/test_fanout_workers.py",
    "tests/metrics/test_bounds.py",
    "tests/test_bench_smoke.py",
    "tests/test_peer_clients.py",
    "tests/channels/test_delivery_s3.py",
    "tests/integrity/test_refusals.py",
    "tests/test_limits.py",
    "tests/test_aws_cli.py",
    "tests/test_connection_limits.py",
    "tests/queues/test_queue_crash.py",
    "tests/test_abuse_memory.py",
    "tests/consumer/test_dynamodb_workers.py",
    "tests/test_serve_create_stream.py",
    "tests/test_on_demand.py",
    "tests/test_reshard_crash.py",
    "tests/consumer/test_workers.py",
    "tests/queues/test_queue_delivery.py",
    "tests/producer/test_producer.py",
    "tests/channels/test_taxi_delivery.py",
    "tests/queues/test_queue_consumer.py",
    "tests/producer/test_real_limits.py",
    "tests/testing/test_pytest_plugin.py",
    "tests/test_serve.py",
    "tests/test_subscriber_flow.py",
    "tests/test_reshard_under_load.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the longest files first (a stable sort: each file keeps its own order)."""
    rank = {path: index for index, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail tests marked ``needs(Op, ...)`` when Shardflow lacks one of those operations: an
    operation that left the handler table is a regression, not a reason to skip.

    Against another endpoint (SHARDFLOW_TEST_ENDPOINT) they run as any other test: that server
    answers for itself, whatever this code base's table holds.
    """
    marker = item.get_closest_marker("needs")
    if marker is None or os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        return
    missing = [op for op in marker.args if op not in HANDLERS]
    if missing:
        pytest.fail(
            f"shardflow does not implement {', '.join(missing)}"
            " (not in shardflow.api.registry.HANDLERS), which this test needs",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the session, started as `shardflow serve` in a subprocess."""
    external = os.environ.get("SHARDFLOW_TEST_ENDPOINT")
    if external:
        yield ServerProcess.external(external)
        return
    with ServerProcess(tmp_path_factory.mktemp("server-data")) as proc:
        yield proc


@pytest.fixture(scope="session")
def endpoint(server: ServerProcess) -> str:
    return server.endpoint


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server with AWS's limits on (the session server runs with --no-limits), started
    on first use, for the tests of a rate that need no other setting."""
    yield from server_of_its_own(tmp_path_factory.mktemp("limited-server") / "data", limits=True)


@pytest.fixture(scope="session")
def creating_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose streams stay CREATING for 10 minutes and DELETING for 1.5 s, started on
    first use: the session server's 0 ms transitions never show either state."""
    data = tmp_path_factory.mktemp("creating-server") / "data"
    yield from server_of_its_own(data, "--create-stream-ms", "600000", "--delete-stream-ms", "1500")


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server serving HTTPS (``--tls``: HTTP/2 by ALPN), for TLS clients."""
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("starts a TLS server of its own")
    with ServerProcess(tmp_path_factory.mktemp("tls-server") / "data", "--tls") as proc:
        yield proc


def make_client(
    endpoint: str, *, region: str = REGION, access_key: str = "AKIDTEST", **config: object
) -> object:
    """A boto3 Kinesis client for ``endpoint`` with test credentials and no retries; ``region``
    and ``access_key`` choose the tenant (the region and account the server files it under)."""
    cfg = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}, **config)  # type: ignore[arg-type]
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="secret",
        config=cfg,
    )


@pytest.fixture(scope="session")
def kinesis(endpoint: str):  # type: ignore[no-untyped-def]
    return make_client(endpoint)


@pytest.fixture
def stream_name() -> str:
    """A fresh stream name per test, so tests never share state."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def stream(kinesis, stream_name: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A 2-shard ACTIVE stream, deleted after the test."""
    kinesis.create_stream(StreamName=stream_name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    yield stream_name
    with contextlib.suppress(kinesis.exceptions.ResourceNotFoundException):
        kinesis.delete_stream(StreamName=stream_name, EnforceConsumerDeletion=True)
