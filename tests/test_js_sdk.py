"""Interoperability: the AWS SDK for JavaScript v3 (`@aws-sdk/client-kinesis`) against the server.

`tests/js/kinesis_smoke.mjs` does a full produce/consume round trip and prints a one-line JSON
summary. It runs twice: with the client's default request handler (for Kinesis that is
`NodeHttp2Handler`, i.e. cleartext HTTP/2 with prior knowledge to an http:// endpoint) and with
an explicit HTTP/1.1 `NodeHttpHandler`. The JS dependencies are pinned in tests/js/package.json and
package-lock.json and installed with `npm ci` the first time (node_modules/ is not committed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "kinesis_smoke.mjs"
REQUIRED_PACKAGES = ("@aws-sdk/client-kinesis", "@smithy/node-http-handler")
NPM_CI_TIMEOUT_S = 600
SCRIPT_TIMEOUT_S = 150  # the script's own watchdog fires at 90 s

# The SDK must not pick up a developer's ~/.aws profile, endpoint overrides or session token.
SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


def _installed() -> bool:
    return all((JS_DIR / "node_modules" / p / "package.json").is_file() for p in REQUIRED_PACKAGES)


@pytest.fixture(scope="session")
def node() -> str:
    """Path to `node`, with the pinned JS dependencies installed (`npm ci`, once)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("`node` is not on PATH: the AWS SDK for JavaScript v3 test needs Node 20+")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    assert major >= 20, f"node {version.stdout.strip()}: @aws-sdk/client-kinesis needs >= 20"
    if not _installed():
        npm = shutil.which("npm")
        assert npm is not None, "`node` is on PATH but `npm` is not: cannot install tests/js deps"
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
        )
        if proc.returncode != 0 or not _installed():
            pytest.fail(
                f"`npm ci` in {JS_DIR} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}",
                pytrace=False,
            )
    return node


def _js_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        AWS_ENDPOINT_URL_KINESIS=endpoint,
        AWS_ACCESS_KEY_ID="AKIDTEST",
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    return env


# (script mode, the handler the SDK should pick, over TLS): h2 over TLS is HTTP/2 chosen by ALPN.
TRANSPORTS = [("h2", "NodeHttp2Handler", False), ("h1", "NodeHttpHandler", False)]
TRANSPORTS += [("h2", "NodeHttp2Handler", True), ("h1", "NodeHttpHandler", True)]
TRANSPORT_IDS = ["h2c-default", "http1", "h2-tls-alpn-default", "http1-tls"]


def _endpoint_and_env(
    request: pytest.FixtureRequest, endpoint: str, tls: bool, tmp_path: Path
) -> tuple[str, dict[str, str]]:
    """The endpoint to use, and the SDK's environment (trusting the local CA over TLS)."""
    if not tls:
        return endpoint, _js_env(endpoint, tmp_path)
    server = request.getfixturevalue("tls_server")
    env = _js_env(server.endpoint, tmp_path)
    env["NODE_EXTRA_CA_CERTS"] = str(server.ca_file)
    return server.endpoint, env


def _run_script(node: str, script: Path, mode: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one of the JS scripts; its one-line JSON summary, checked for errors and exit 0."""
    proc = subprocess.run(
        [node, str(script), mode],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    context = (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    )
    assert lines, f"{script.name} printed no summary; {context}"
    summary: dict[str, Any] = json.loads(lines[-1])
    assert summary["errors"] == [], f"{mode}: {summary['errors']}; {context}"
    assert proc.returncode == 0 and summary["ok"] is True, context
    return summary


@pytest.mark.timeout(NPM_CI_TIMEOUT_S + SCRIPT_TIMEOUT_S + 30)
@pytest.mark.parametrize(("mode", "handler", "tls"), TRANSPORTS, ids=TRANSPORT_IDS)
def test_js_sdk_round_trip(
    request: pytest.FixtureRequest,
    node: str,
    endpoint: str,
    tmp_path: Path,
    mode: str,
    handler: str,
    tls: bool,
) -> None:
    endpoint, env = _endpoint_and_env(request, endpoint, tls, tmp_path)
    summary = _run_script(node, SCRIPT, mode, env)
    assert summary["mode"] == mode
    assert summary["handler"] == handler
    assert summary["endpoint"] == endpoint
    assert summary["shards"] == 2
    assert summary["put_record"] == 20
    assert summary["put_records"] == 100
    assert summary["read"] == 120
    assert sum(s["read"] for s in summary["per_shard"].values()) == 120
    assert summary["not_found_error"]["name"] == "ResourceNotFoundException"
    assert summary["deleted"] is True


@pytest.mark.timeout(NPM_CI_TIMEOUT_S + SCRIPT_TIMEOUT_S + 30)
@pytest.mark.parametrize(("mode", "handler", "tls"), TRANSPORTS, ids=TRANSPORT_IDS)
def test_js_sdk_subscribe_to_shard(
    request: pytest.FixtureRequest,
    node: str,
    endpoint: str,
    tmp_path: Path,
    mode: str,
    handler: str,
    tls: bool,
) -> None:
    """SubscribeToShard's event stream read by the JS SDK (tests/js/subscribe_to_shard.mjs)."""
    _, env = _endpoint_and_env(request, endpoint, tls, tmp_path)
    summary = _run_script(node, JS_DIR / "subscribe_to_shard.mjs", mode, env)
    assert summary["handler"] == handler
    assert summary["received"] == [f"early-{i}" for i in range(3)] + [f"late-{i}" for i in range(5)]
    assert summary["sequence_numbers_match"] is True
    assert len(summary["continuation"]) == 56
