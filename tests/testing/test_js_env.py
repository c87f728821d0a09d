"""docs/testing.md's claim for the AWS SDK for JavaScript v3: the environment alone points
``new KinesisClient({})`` at a server of ``shardflow.testing`` (either endpoint variable)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import shardflow.testing
from tests.test_js_sdk import JS_DIR, SCRIPT_TIMEOUT_S, node  # noqa: F401 - node is a fixture

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"])
def test_js_client_from_the_environment(node: str, variable: str, tmp_path: Path) -> None:  # noqa: F811
    with shardflow.testing.server(streams=["orders:2"], region="eu-west-1") as s:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(s.env())
        env[variable] = env.pop("AWS_ENDPOINT_URL_KINESIS")
        env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
        proc = subprocess.run(
            [node, "env_only.mjs", "orders"],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["streams"] == ["orders"] and out["region"] == "eu-west-1"
        client = s.client()
        iterator = client.get_shard_iterator(
            StreamName="orders", ShardId=out["shard"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert [r["Data"] for r in client.get_records(ShardIterator=iterator)["Records"]] == [
            b"from-js"
        ]
