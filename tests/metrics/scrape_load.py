"""A server with many streams, and how long an API call waits while /metrics is scraped.

Shared by tests/metrics/test_bounds.py and bench/metrics_scrape.py (the figures in
docs/monitoring.md).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.metrics.rawcalls import _read_response, request, send_all

MAX_HASH = 2**128 - 1


def populate(endpoint: str, streams: int, shards: int = 4) -> None:
    """``streams`` streams of ``shards`` shards, every shard-level metric on, one record per shard
    (so every stream and shard has series), via raw keep-alive calls."""
    host = urlsplit(endpoint).netloc
    names = [f"load-{i:05d}" for i in range(streams)]
    creates = [
        request(host, "CreateStream", {"StreamName": n, "ShardCount": shards}) for n in names
    ]
    outcomes = send_all(endpoint, creates)
    assert set(outcomes) == {(200, "")}, outcomes
    monitoring = [
        request(host, "EnableEnhancedMonitoring", {"StreamName": n, "ShardLevelMetrics": ["ALL"]})
        for n in names
    ]
    assert set(send_all(endpoint, monitoring)) == {(200, "")}
    step = (MAX_HASH + 1) // shards
    puts = [
        request(
            host,
            "PutRecords",
            {
                "StreamName": n,
                "Records": [
                    {"PartitionKey": "k", "Data": "eA==", "ExplicitHashKey": str(i * step)}
                    for i in range(shards)
                ],
            },
        )
        for n in names
    ]
    assert set(send_all(endpoint, puts)) == {(200, "")}


@dataclass
class ScrapeFigures:
    scrape_s: float  # one GET /metrics, end to end
    size: int  # its bytes
    calls: int  # API calls answered while it ran
    median_ms: float
    max_ms: float  # the slowest of them


def calls_during_scrape(endpoint: str) -> ScrapeFigures:
    """Scrape /metrics in a thread; meanwhile send ListStreams calls one after the other and time
    each, until the scrape has its answer."""
    url = urlsplit(endpoint)
    assert url.hostname is not None and url.port is not None
    raw = request(url.netloc, "ListStreams", {"Limit": 1})
    done = threading.Event()
    result: dict[str, float] = {}

    def scrape() -> None:
        t0 = time.perf_counter()
        req = urllib.request.Request(endpoint + "/metrics")
        with urllib.request.urlopen(req, timeout=120) as response:
            result["size"] = len(response.read())
        result["scrape_s"] = time.perf_counter() - t0
        done.set()

    latencies: list[float] = []
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb", buffering=0)
        buffer = bytearray()
        sock.sendall(raw)  # warm: the connection is open and served before the scrape
        assert _read_response(reader, buffer)[0] == 200  # type: ignore[arg-type]
        thread = threading.Thread(target=scrape)
        thread.start()
        while not done.is_set():
            t0 = time.perf_counter()
            sock.sendall(raw)
            status, _ = _read_response(reader, buffer)  # type: ignore[arg-type]
            assert status == 200
            latencies.append(time.perf_counter() - t0)
        thread.join()
    return ScrapeFigures(
        result["scrape_s"],
        int(result["size"]),
        len(latencies),
        statistics.median(latencies) * 1000,
        max(latencies) * 1000,
    )
