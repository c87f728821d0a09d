"""The dashboard in a real browser: headless Chromium (Debian's package, driven by Playwright)
loads it while records flow, and every chart that should have data draws non-zero points; the
shard-level charts appear once enhanced monitoring is enabled, as on AWS."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.metrics.conftest import create
from tests.support import ServerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (CI runs as root); no background networking: the machine has no internet.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Charts that the traffic below must fill (stream level, then one line per shard).
MUST_HAVE_POINTS = [
    "stream:Incoming data",
    "stream:Incoming records",
    "stream:PutRecords bytes",
    "stream:PutRecords latency",
    "stream:PutRecords records",
    "stream:GetRecords records",
    "stream:GetRecords latency",
    "stream:Throughput exceeded",
    "shard:IncomingRecords",
    "shard:OutgoingRecords",
]


def _playwright() -> Any:
    """The sync Playwright API, or a skip (a failure in CI, where .ci/run installs Chromium)."""
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_playwright


@contextlib.contextmanager
def dashboard_page(sync_playwright: Any, errors: list[str]) -> Iterator[Any]:
    """A 1440x900 Chromium page whose script and console errors are collected in ``errors``."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            yield page
        finally:
            browser.close()


def _traffic(kinesis: Any, stream: str, stop: threading.Event) -> None:
    """PutRecords batches and GetRecords reads until ``stop``; throttles come from the faults."""
    iterators = {
        shard: kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for shard in ("shardId-000000000000", "shardId-000000000001")
    }
    n = 0
    while not stop.is_set():
        n += 1
        kinesis.put_records(
            StreamName=stream,
            Records=[{"PartitionKey": f"taxi-{n}-{i}", "Data": b"{}" * 20} for i in range(50)],
        )
        for shard, it in iterators.items():
            with contextlib.suppress(kinesis.exceptions.ProvisionedThroughputExceededException):
                iterators[shard] = kinesis.get_records(ShardIterator=it)["NextShardIterator"]
        stop.wait(0.05)


def test_dashboard_draws_live_charts(
    faulty_server: ServerProcess, faulty_kinesis: Any, tmp_path: Path
) -> None:
    sync_playwright = _playwright()
    stream = f"browser-{uuid.uuid4().hex[:8]}"
    create(faulty_kinesis, stream)
    stop = threading.Event()
    writer = threading.Thread(target=_traffic, args=(faulty_kinesis, stream, stop), daemon=True)
    writer.start()
    errors: list[str] = []
    try:
        with dashboard_page(sync_playwright, errors) as page:
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{faulty_server.endpoint}/dashboard#stream={stream}&range=5m")
            # enhanced monitoring is off: no shard-level chart, and the command to enable it
            note = page.locator("#shard-note")
            note.wait_for(state="visible")
            assert "No shard-level metrics are enabled" in note.inner_text()
            assert (
                f"aws kinesis enable-enhanced-monitoring --stream-name {stream}"
                f" --shard-level-metrics ALL --endpoint-url {faulty_server.endpoint}"
            ) in note.locator("code").inner_text()
            assert page.locator("#shard-charts .chart").count() == 0
            # a PROVISIONED stream cannot have Kinesis queues: the queue panel says so
            assert "ON_DEMAND streams only" in page.locator("#queue-note").inner_text()
            faulty_kinesis.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
            page.wait_for_function(
                """(names) => {
                    const d = window.shardflowDashboard;
                    return d && names.every((n) => d.charts.has(n) &&
                        d.charts.get(n).data.slice(1).some((s) => s.some((v) => v > 0)));
                }""",
                arg=MUST_HAVE_POINTS,
                timeout=15_000,
            )
            drawn = page.evaluate(
                """() => [...window.shardflowDashboard.charts].map(([name, u]) =>
                    [name, u.data.slice(1).map((s) => s.filter((v) => v > 0).length),
                     u.ctx.canvas.width, u.ctx.canvas.height])"""
            )
            charts = {name: (points, w, h) for name, points, w, h in drawn}
            assert len(charts) == 22
            assert page.locator("#shard-note").is_hidden()  # every metric is enabled
            for name in MUST_HAVE_POINTS:
                points, width, height = charts[name]
                assert max(points) > 0 and width > 200 and height > 100, (name, charts[name])
            # both shards draw their own line
            assert all(n > 0 for n in charts["shard:IncomingRecords"][0])
            row = page.locator("#streams tbody tr.selected")
            assert stream in row.inner_text() and "ACTIVE" in row.inner_text()
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            # another time range redraws the same charts at its own resolution
            page.click("button[data-range='1h']")
            page.wait_for_function(
                """() => window.shardflowDashboard.charts.get('stream:Incoming records')
                    .data[0].length === 3600"""
            )
            origin = faulty_server.endpoint
            assert requests and all(url.startswith(origin) for url in requests), requests
    finally:
        stop.set()
        writer.join(10)
    assert not errors, errors
