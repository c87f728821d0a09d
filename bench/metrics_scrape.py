"""What a scrape costs at scale: /metrics and the dashboard's JSON on a 1,000-stream server.

    .venv/bin/python bench/metrics_scrape.py [--streams 1000] [--shards 4] [--rounds 5]
    .venv/bin/python bench/metrics_scrape.py --quick    # 20 streams, 1 round: a smoke test

Starts a server (loopback, ephemeral port, a temporary data dir), creates the streams with every
shard-level metric on and one record per shard, then, per round: scrapes /metrics while timing
ListStreams calls sent one after the other; fetches the dashboard's stream list and one stream's
hour. Prints render time and size, and the calls' median and slowest wait (docs/monitoring.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.metrics.scrape_load import calls_during_scrape, populate
from tests.support import ServerProcess


def timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        size = len(response.read())
    return time.perf_counter() - t0, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20 streams, 1 round (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.rounds = 20, 1
    limit = str(args.streams * args.shards + 10)
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerProcess(Path(tmp) / "data", "--shard-limit", limit) as server,
    ):
        populate(server.endpoint, args.streams, args.shards)
        scrapes = [calls_during_scrape(server.endpoint) for _ in range(args.rounds)]
        lists = [timed_get(server.endpoint + "/dashboard/api/streams") for _ in range(3)]
        hour = [
            timed_get(server.endpoint + "/dashboard/api/metrics?stream=load-00000&range=1h")
            for _ in range(3)
        ]
    print(f"{args.streams} streams x {args.shards} shards, {args.rounds} scrapes")
    print(
        f"/metrics: {statistics.median(s.scrape_s for s in scrapes) * 1000:.0f} ms median,"
        f" {scrapes[-1].size / 1e6:.1f} MB"
    )
    waits = [s.median_ms for s in scrapes]
    print(
        f"ListStreams during a scrape: {sum(s.calls for s in scrapes)} calls,"
        f" median of medians {statistics.median(waits):.1f} ms,"
        f" slowest {max(s.max_ms for s in scrapes):.1f} ms"
    )
    print(
        f"/dashboard/api/streams: {statistics.median(t for t, _ in lists) * 1000:.0f} ms,"
        f" {lists[-1][1] / 1e3:.0f} kB"
    )
    print(
        f"/dashboard/api/metrics (1 stream, 1h): {statistics.median(t for t, _ in hour) * 1000:.0f}"
        f" ms, {hour[-1][1] / 1e3:.0f} kB"
    )


if __name__ == "__main__":
    main()
