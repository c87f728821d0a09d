"""The pytest plugin, run by pytest's own ``pytester`` in suites of its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)

# Code under test as a third party writes it: its own client, configured by the environment.
ORDERS_MODULE = """
import json

import boto3


def publish_order(stream, order):
    client = boto3.client("kinesis")
    response = client.put_record(
        StreamName=stream, Data=json.dumps(order).encode(), PartitionKey=order["id"]
    )
    return response["SequenceNumber"]
"""

# Six PutRecords calls of 500 records: 3,000 records, three times what one shard takes per
# second under AWS's limits, sent back to back; only a call slower than 0.5 s could hide it.
THROTTLE_CHECK = """
def throttled(kinesis, stream):
    entries = [{"Data": b"x", "PartitionKey": "k"} for _ in range(500)]
    failed = 0
    for _ in range(6):
        failed += kinesis.put_records(StreamName=stream, Records=entries)["FailedRecordCount"]
    return failed
"""


def test_fixtures_against_code_under_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(orders=ORDERS_MODULE)
    pytester.makepyfile(
        test_orders="""
        import json
        import os

        import boto3

        from orders import publish_order


        def test_publish_order(shardflow_env, shardflow_stream, shardflow_kinesis):
            stream = shardflow_stream(shards=4)
            sequence = publish_order(stream, {"id": "o-1", "total": 12})
            shards = shardflow_kinesis.list_shards(StreamName=stream)["Shards"]
            assert len(shards) == 4
            found = []
            for shard in shards:
                it = shardflow_kinesis.get_shard_iterator(
                    StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                found += shardflow_kinesis.get_records(ShardIterator=it)["Records"]
            assert [r["SequenceNumber"] for r in found] == [sequence]
            assert json.loads(found[0]["Data"]) == {"id": "o-1", "total": 12}
            assert os.environ["AWS_ENDPOINT_URL_KINESIS"] == shardflow_env[
                "AWS_ENDPOINT_URL_KINESIS"
            ]
            assert "AWS_PROFILE" not in os.environ


        def test_streams_are_deleted_after_each_test(shardflow_kinesis, shardflow_stream):
            assert shardflow_kinesis.list_streams()["StreamNames"] == []
            assert shardflow_stream(name="orders") == "orders"
            described = shardflow_kinesis.describe_stream_summary(StreamName="orders")
            assert described["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
            assert described["StreamDescriptionSummary"]["OpenShardCount"] == 1


        def test_on_demand_and_the_previous_stream_gone(shardflow_kinesis, shardflow_stream):
            assert shardflow_kinesis.list_streams()["StreamNames"] == []
            stream = shardflow_stream(mode="ON_DEMAND")
            summary = shardflow_kinesis.describe_stream_summary(StreamName=stream)
            mode = summary["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"]
            assert mode == "ON_DEMAND"


        def test_one_server_for_the_session(shardflow_server, shardflow_endpoint):
            assert shardflow_endpoint == shardflow_server.endpoint_url
            assert shardflow_endpoint.startswith("http://127.0.0.1:")
        """
    )
    # A profile that does not exist: the env fixture must keep it from the code under test.
    os.environ["AWS_PROFILE"] = "no-such-profile"
    try:
        result = pytester.runpytest("-p", "no:cacheprovider")
    finally:
        del os.environ["AWS_PROFILE"]
    result.assert_outcomes(passed=4)


def test_limits_marker_and_option(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        THROTTLE_CHECK.replace("def throttled", "def _throttled")
        + """
import pytest


@pytest.fixture
def throttled():
    return _throttled
"""
    )
    pytester.makepyfile(
        test_limits="""
        import pytest


        def test_limits_off(shardflow_kinesis, shardflow_stream, throttled, shardflow_server):
            assert shardflow_kinesis.meta.endpoint_url == shardflow_server.endpoint_url
            assert throttled(shardflow_kinesis, shardflow_stream()) == 0


        @pytest.mark.shardflow_limits
        def test_limits_on(
            shardflow_kinesis, shardflow_stream, throttled, shardflow_limited_server
        ):
            assert shardflow_kinesis.meta.endpoint_url == shardflow_limited_server.endpoint_url
            assert throttled(shardflow_kinesis, shardflow_stream()) > 0
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    # --shardflow-limits: the session server itself enforces them, so the first test fails.
    result = pytester.runpytest("-p", "no:cacheprovider", "--shardflow-limits")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_limits_off*"])


def test_one_server_per_xdist_worker(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    pytester.makepyfile(
        test_workers=f"""
        import json
        import os
        import uuid

        import pytest


        @pytest.mark.parametrize("n", range(8))
        def test_record_server(n, shardflow_server, shardflow_stream, shardflow_kinesis):
            stream = shardflow_stream(name="same-name-in-every-worker-" + str(n % 2))
            shardflow_kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
            worker = os.environ["PYTEST_XDIST_WORKER"]
            path = os.path.join({str(out)!r}, uuid.uuid4().hex)
            with open(path, "w") as f:
                json.dump([worker, shardflow_server.endpoint_url], f)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)
    seen = [json.loads(p.read_text()) for p in out.iterdir()]
    endpoints: dict[str, set[str]] = {}
    for worker, endpoint in seen:
        endpoints.setdefault(worker, set()).add(endpoint)
    assert sorted(endpoints) == ["gw0", "gw1"]
    assert all(len(urls) == 1 for urls in endpoints.values())  # one server per worker
    assert endpoints["gw0"] != endpoints["gw1"]


def test_inert_unless_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys
        import threading


        def test_nothing_started(request):
            assert request.config.pluginmanager.has_plugin("shardflow")
            assert "shardflow.server.serve" not in sys.modules
            assert "boto3" not in sys.modules
            assert not [t for t in threading.enumerate() if t.name == "shardflow-server"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_process_isolation_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_process="""
        import threading


        def test_server_in_a_subprocess(shardflow_kinesis, shardflow_stream):
            stream = shardflow_stream(shards=2)
            assert shardflow_kinesis.list_streams()["StreamNames"] == [stream]
            assert not [t for t in threading.enumerate() if t.name == "shardflow-server"]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--shardflow-isolation", "process")
    result.assert_outcomes(passed=1)
