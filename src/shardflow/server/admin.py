"""Shardflow's own endpoints under /_shardflow/ (not part of the Kinesis API).

GET    /_shardflow/faults   the fault plan in force
POST   /_shardflow/faults   replace it (JSON body, see engine.faults)
DELETE /_shardflow/faults   turn fault injection off
POST   /_shardflow/reset    drop every stream at once, as on a fresh server (shardflow.testing)
"""

from __future__ import annotations

import orjson

from shardflow.engine.engine import Engine
from shardflow.engine.faults import FaultPlan, FaultPlanError
from shardflow.server.response import Response

ENDPOINTS = ("/_shardflow/faults", "/_shardflow/reset")


async def handle(engine: Engine, method: str, path: str, body: bytes | None) -> Response:
    endpoint = path.rstrip("/")
    if endpoint == "/_shardflow/faults":
        return _faults(engine, method, body)
    if endpoint == "/_shardflow/reset":
        return await _reset(engine, method)
    return Response.json(404, {"error": f"no such endpoint: {path}", "try": list(ENDPOINTS)})


async def _reset(engine: Engine, method: str) -> Response:
    if method != "POST":
        return Response.json(405, {"error": "use POST"})
    dropped = await engine.drop_all_streams()
    return Response.json(200, {"streams_dropped": dropped})


def _faults(engine: Engine, method: str, body: bytes | None) -> Response:
    if method == "GET":
        return Response.json(200, engine.faults.plan.to_dict())
    if method == "DELETE":
        engine.faults.set_plan(FaultPlan())
        return Response.json(200, engine.faults.plan.to_dict())
    if method not in ("POST", "PUT"):
        return Response.json(405, {"error": "use GET, POST or DELETE"})
    if body is None:
        return Response.json(413, {"error": "fault plan too large"})
    try:
        plan = FaultPlan.from_dict(orjson.loads(body or b"{}"))
    except orjson.JSONDecodeError:
        return Response.json(400, {"error": "the body must be a JSON object"})
    except FaultPlanError as exc:
        return Response.json(400, {"error": str(exc)})
    engine.faults.set_plan(plan)
    return Response.json(200, plan.to_dict())
