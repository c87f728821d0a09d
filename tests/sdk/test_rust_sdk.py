"""The AWS SDK for Rust (`aws-sdk-kinesis` on crates.io, on tokio) against the server.

clients/rust (versions pinned with `=` in Cargo.toml and in Cargo.lock) does the data plane and
SubscribeToShard on every shard, over http and over https (`serve --tls`, the program trusting
only DATA_DIR/tls/ca.pem through the SDK's rustls trust store). The build is cargo's, kept in
clients/rust/target: minutes the first time, seconds after.
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

RUST_DIR = CLIENTS / "rust"
BINARY = RUST_DIR / "target" / "debug" / "shardflow-rust-sdk-check"
RECORDS = 20
BUILD_TIMEOUT_S = 1700  # the AWS SDK and aws-lc from source on 2 shared cores


@pytest.fixture(scope="session")
def rust_program() -> Path:
    """The program, built once per run with the versions of Cargo.lock."""
    cargo = toolchain("cargo")
    build([cargo, "build", "--locked", "--quiet"], RUST_DIR, BUILD_TIMEOUT_S)
    return BINARY


@pytest.mark.parametrize("server_fixture", ["sdk_server", "sdk_tls_server"])
def test_rust_sdk_data_plane_and_subscribe_to_shard(
    rust_program: Path, server_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: ServerProcess = request.getfixturevalue(server_fixture)
    summary = run_program([str(rust_program), stream_name("rust")], program_env(server, tmp_path))
    kinesis = kinesis_for(server)
    check_round_trip(summary, kinesis, RECORDS)
    check_consumer(summary, kinesis)
    check_refusals(summary, kinesis)
