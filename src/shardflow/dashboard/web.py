"""The monitoring routes the server answers on GET: the dashboard, its JSON, and /metrics.

GET /dashboard                          the page (HTML, with its script and styles)
GET /dashboard/static/<file>            vendored assets (uPlot) and the page's own
GET /dashboard/api/streams              every stream: status, mode, shards, retention, rates
GET /dashboard/api/metrics?stream=S&range=5m|1h|1d
                                        the stream's series and totals, per shard and per
                                        enhanced fan-out consumer (MetricsRecorder.query)
GET /metrics                            Prometheus text format

Everything is served from the package: the page fetches nothing from the internet. The JSON and
/metrics are computed in one worker thread from figures copied on the event loop, so a scrape of
a large server never holds up API calls (docs/monitoring.md has the cost).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from shardflow.engine.engine import Engine
from shardflow.engine.streams import Stream
from shardflow.metrics import series
from shardflow.metrics.points import STREAM_LEVEL, Point, merge
from shardflow.metrics.recorder import RANGES, MetricsRecorder
from shardflow.metrics.render import off_loop
from shardflow.metrics.snapshot import StreamInfo
from shardflow.server.response import Response

# query string in, response out (or a coroutine of it, for the work done in a thread)
Route = Callable[[str], Response | Awaitable[Response]]


STATIC_FILES = {  # file name -> content type
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
METRICS_OFF = "metrics are turned off (shardflow serve --no-metrics)"


def routes(engine: Engine, recorder: MetricsRecorder | None) -> dict[str, Route]:
    """The GET routes, by exact path, for KinesisApp."""
    static = resources.files("shardflow.dashboard") / "static"
    page = (resources.files("shardflow.dashboard") / "index.html").read_bytes()
    table: dict[str, Route] = {
        "/dashboard": lambda _q: _bytes(page, "text/html; charset=utf-8"),
        "/dashboard/": lambda _q: _bytes(page, "text/html; charset=utf-8"),
        "/dashboard/api/streams": lambda _q: _streams(engine, recorder),
        "/dashboard/api/metrics": lambda q: _stream_metrics(engine, recorder, q),
        "/metrics": _prometheus(engine, recorder),
    }
    for name, content_type in STATIC_FILES.items():
        body = (static / name).read_bytes()
        table[f"/dashboard/static/{name}"] = _fixed(body, content_type)
    return table


def _fixed(body: bytes, content_type: str) -> Route:
    return lambda _q: _bytes(body, content_type)


def _bytes(body: bytes, content_type: str) -> Response:
    return Response(200, [("content-type", content_type), ("cache-control", "no-cache")], body)


def stream_summary(stream: Stream) -> dict[str, Any]:
    open_count = stream.open_shard_count
    return {
        "name": stream.name,
        "arn": stream.arn,
        "status": stream.current_status(),
        "mode": stream.mode,
        "open_shards": open_count,
        "closed_shards": len(stream.shards) - open_count,
        "retention_hours": stream.retention_hours,
        "created": stream.created_ms / 1000,
        "shard_level_metrics": list(stream.shard_level_metrics),
    }


async def _streams(engine: Engine, recorder: MetricsRecorder | None) -> Response:
    summaries = [stream_summary(stream) for stream in engine.live_streams()]
    parts = (
        [recorder.recent_parts(s["name"], 60) for s in summaries] if recorder is not None else []
    )

    def work() -> Response:
        for summary, points in zip(summaries, parts, strict=False):
            merged: Point = {}
            for point in points:
                merge(merged, point)
            recent = merged.get(STREAM_LEVEL, {})
            summary["last_minute"] = {
                name: recent[name].sum if name in recent else 0
                for name in ("IncomingRecords", "IncomingBytes", "GetRecords.Records")
            }
        return Response.json(200, {"metrics": recorder is not None, "streams": summaries})

    return await off_loop(work)


def _stream_metrics(
    engine: Engine, recorder: MetricsRecorder | None, query: str
) -> Response | Awaitable[Response]:
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    name = args.get("stream")
    range_name = args.get("range", "5m")
    if not name:
        return Response.json(400, {"error": "give the stream: ?stream=NAME"})
    if range_name not in RANGES:
        return Response.json(400, {"error": f"range must be one of {', '.join(RANGES)}"})
    if recorder is None:
        return Response.json(503, {"error": METRICS_OFF})
    live = {s.name: s for s in engine.live_streams()}
    stream = live.get(name)
    if stream is None and name not in recorder.streams():
        return Response.json(404, {"error": f"no stream named {name}"})
    shard_ids = [s.shard_id for s in stream.shards] if stream is not None else []
    view = recorder.query_view(name, range_name, shard_ids)
    summary = stream_summary(stream) if stream is not None else None

    def work() -> Response:
        body = series.compute(view)
        body["summary"] = summary
        return Response.json(200, body)

    return off_loop(work)


def _prometheus(engine: Engine, recorder: MetricsRecorder | None) -> Route:
    if recorder is None:
        return lambda _q: Response(
            503, [("content-type", "text/plain; charset=utf-8")], f"{METRICS_OFF}\n".encode()
        )
    from shardflow.metrics import prometheus
    from shardflow.metrics.storage_health import StorageHealthCollector

    storage = StorageHealthCollector(engine.store)  # counters and a statvfs: fine off the loop
    headers = [("content-type", prometheus.CONTENT_TYPE)]

    async def scrape(_query: str) -> Response:
        snapshot = recorder.snapshot([_info(stream) for stream in engine.live_streams()])
        return await off_loop(lambda: Response(200, headers, prometheus.render(snapshot, storage)))

    return scrape


def _info(stream: Stream) -> StreamInfo:
    open_count = stream.open_shard_count
    return StreamInfo(
        stream.name,
        stream.current_status(),
        stream.mode,
        open_count,
        len(stream.shards) - open_count,
        stream.retention_hours,
    )
