"""The AWS SDK for Go v2 (`github.com/aws/aws-sdk-go-v2/service/kinesis`) against the server.

clients/go/main.go (versions pinned in its go.mod and go.sum) does the data plane and
SubscribeToShard on every shard. Over http the SDK's net/http transport speaks HTTP/1.1 (Go sends
no h2c), so SubscribeToShard arrives as a chunked HTTP/1.1 response; over https (`serve --tls`,
the program trusting DATA_DIR/tls/ca.pem) it negotiates HTTP/2 by ALPN. Both are run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk.support import (
    CLIENTS,
    build,
    check_consumer,
    check_refusals,
    check_round_trip,
    kinesis_for,
    program_env,
    run_program,
    stream_name,
    toolchain,
)
from tests.support import ServerProcess

GO_DIR = CLIENTS / "go"
BINARY = GO_DIR / "bin" / "shardflow-go-sdk-check"
RECORDS = 20
BUILD_TIMEOUT_S = 900


@pytest.fixture(scope="session")
def go_program() -> Path:
    """The program, built once per run (Go's build cache makes a rebuild quick)."""
    go = toolchain("go")
    build([go, "build", "-mod=readonly", "-o", str(BINARY), "."], GO_DIR, BUILD_TIMEOUT_S)
    return BINARY


@pytest.mark.parametrize(
    ("server_fixture", "protocol"), [("sdk_server", "HTTP/1.1"), ("sdk_tls_server", "HTTP/2.0")]
)
def test_go_sdk_data_plane_and_subscribe_to_shard(
    go_program: Path,
    server_fixture: str,
    protocol: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    server: ServerProcess = request.getfixturevalue(server_fixture)
    summary = run_program([str(go_program), stream_name("go")], program_env(server, tmp_path))
    kinesis = kinesis_for(server)
    check_round_trip(summary, kinesis, RECORDS)
    check_consumer(summary, kinesis)
    check_refusals(summary, kinesis)
    assert summary["subscribe_protocols"] == [protocol] * 2 * len(summary["shards"])
