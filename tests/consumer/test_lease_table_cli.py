"""``--lease-table`` of ``verify`` and ``tail``: a DynamoDB table (moto's server) found through
the standard AWS_ENDPOINT_URL_DYNAMODB, resumed from on the next run."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from shardflow.cli.main import main
from tests.conftest import REGION
from tests.consumer.dynamodb import DynamoDBServer, unique_table
from tests.consumer.support import create_stream, fill


def _run(server: DynamoDBServer, *args: str) -> tuple[int, str]:
    env = {"AWS_ENDPOINT_URL_DYNAMODB": server.endpoint, "AWS_ENDPOINT_URL": None}
    result = CliRunner(env=env).invoke(main, list(args))  # type: ignore[arg-type]
    return result.exit_code, result.output


def _checkpoints(client: Any, table: str) -> dict[str, str]:
    items = client.scan(TableName=table)["Items"]
    return {i["leaseKey"]["S"]: i["checkpoint"]["S"] for i in items}


def test_verify_resumes_from_the_lease_table(
    kinesis: Any, endpoint: str, stream_name: str, dynamodb_server: DynamoDBServer
) -> None:
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=4, per_key=10)
    table = unique_table()
    flags = ("--endpoint-url", endpoint, "--region", REGION, "--lease-table", table, "--json")
    code, out = _run(dynamodb_server, "verify", stream_name, *flags)
    assert code == 0, out
    assert json.loads(out)["records"] == 40
    client = dynamodb_server.client()
    checkpoints = _checkpoints(client, table)
    assert sorted(checkpoints) == ["shardId-000000000000", "shardId-000000000001"]
    assert all(value.isdigit() for value in checkpoints.values()), checkpoints
    fill(kinesis, stream_name, keys=4, per_key=5)  # counters 1..5 again: duplicates
    code, out = _run(dynamodb_server, "verify", stream_name, *flags)
    report = json.loads(out)
    assert report["records"] == 20, out  # only what came after the checkpoints
    assert _checkpoints(client, table) != checkpoints


def test_tail_takes_its_records_from_the_lease_table(
    kinesis: Any, endpoint: str, stream_name: str, dynamodb_server: DynamoDBServer
) -> None:
    create_stream(kinesis, stream_name, 1)
    fill(kinesis, stream_name, keys=1, per_key=6)
    table = unique_table()
    flags = ("--endpoint-url", endpoint, "--region", REGION, "--lease-table", table)
    args = ("tail", stream_name, "--from", "trim-horizon", "--format", "raw", *flags)
    code, out = _run(dynamodb_server, *args, "--max-records", "4")
    assert code == 0, out
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3, 4]
    code, out = _run(dynamodb_server, *args, "--max-records", "2")  # a hang fails by timeout
    assert code == 0, out
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [5, 6]


def test_an_unreachable_lease_table_is_one_clear_line(
    kinesis: Any, endpoint: str, stream_name: str
) -> None:
    from tests.support import free_port

    create_stream(kinesis, stream_name, 1)
    env = {"AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{free_port()}"}
    args = ["verify", stream_name, "--endpoint-url", endpoint, "--region", REGION]
    result = CliRunner(env=env).invoke(main, [*args, "--lease-table", "nowhere"])
    assert result.exit_code == 3, result.output
    assert "cannot reach the DynamoDB lease table 'nowhere'" in result.output
    assert "AWS_ENDPOINT_URL_DYNAMODB" in result.output
