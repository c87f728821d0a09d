"""The AWS SDK for JavaScript v3 in a real browser: headless Chromium loads a page from a second
loopback origin, whose bundled Kinesis client (tests/browser, built with esbuild) creates a
stream, puts and gets a record on the server across origins (CORS), and whose cross-site POST to
the admin surface is refused.

The JS dependencies are pinned in tests/browser/package.json and package-lock.json and installed
with `npm ci` the first time (node_modules/ is not committed); the bundle is built per session.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.metrics.test_dashboard_browser import CHROMIUM, CHROMIUM_FLAGS, _playwright
from tests.support import ServerProcess, free_port, server_of_its_own

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
NPM_CI_TIMEOUT_S = 600
PLAN = {"operations": {"PutRecord": {"internal": 1.0}}}  # valid: accepted if it got through


def _installed() -> bool:
    return (BROWSER_DIR / "node_modules" / ".bin" / "esbuild").exists() and (
        BROWSER_DIR / "node_modules" / "@aws-sdk" / "client-kinesis" / "package.json"
    ).is_file()


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page and its SDK bundle, built with esbuild (``npm ci`` first, once)."""
    if shutil.which("node") is None:
        pytest.skip("`node` is not on PATH: the browser bundle is built with esbuild")
    if not _installed():
        npm = shutil.which("npm")
        assert npm is not None, "`node` is on PATH but `npm` is not"
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=BROWSER_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
        )
        assert proc.returncode == 0 and _installed(), proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path_factory.mktemp("page")
    build = subprocess.run(
        [
            str(BROWSER_DIR / "node_modules" / ".bin" / "esbuild"),
            str(BROWSER_DIR / "kinesis_page.mjs"),
            "--bundle",
            "--platform=browser",
            "--format=iife",
            f"--outfile={out / 'kinesis.bundle.js'}",
            "--log-level=warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    shutil.copy(BROWSER_DIR / "index.html", out / "index.html")
    return out


@pytest.fixture(scope="module")
def page_origin(page_dir: Path) -> Iterator[str]:
    """A second loopback origin serving the page (another port: another origin)."""
    handler = functools.partial(_QuietHandler, directory=str(page_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the defaults a developer gets: CORS for any origin on a loopback bind."""
    yield from server_of_its_own(tmp_path_factory.mktemp("browser") / "data")


def _faults(endpoint: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/_shardflow/faults", timeout=10) as response:
        return dict(json.loads(response.read()))


def test_js_sdk_in_a_browser_page_of_another_origin(
    page_origin: str, browser_server: ServerProcess
) -> None:
    sync_playwright = _playwright()
    endpoint = browser_server.endpoint
    before = _faults(endpoint)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{page_origin}/index.html")
            result = page.evaluate(
                "(args) => window.shardflowBrowserTest.roundTrip(args)",
                {
                    "endpoint": endpoint,
                    "region": "us-west-2",
                    "stream": "from-a-page",
                    "accessKeyId": "AKIDBROWSER",
                    "secretAccessKey": "secret",
                },
            )
            refused = page.evaluate(
                "([endpoint, plan]) => window.shardflowBrowserTest.postFaults(endpoint, plan)",
                [endpoint, PLAN],
            )
        finally:
            browser.close()
    assert errors == []
    assert result["arn"] == "arn:aws:kinesis:us-west-2:000000000000:stream/from-a-page"
    assert result["status"] == "ACTIVE"
    assert result["putShard"] == "shardId-000000000000"
    assert result["records"] == ["hello from a page"]
    assert result["sequences"] == [result["putSequence"]]
    # The SDK read the exposed x-amzn-RequestId and x-amzn-ErrorType across origins.
    assert result["createdRequestId"]
    assert result["notFound"]["name"] == "ResourceNotFoundException"
    assert result["notFound"]["requestId"]
    # The admin surface: the simple POST reached the server and was refused (the page sees an
    # opaque answer); the JSON one failed its preflight. The fault plan is unchanged.
    assert refused["simple"] == "opaque"
    assert refused["json"] == "error: TypeError"
    assert _faults(endpoint) == before
