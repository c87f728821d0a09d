"""Create the streams a server is started with (``serve --create-stream``), ACTIVE at once.

They exist before the port is bound, so a CI job can use them as soon as the server answers.
A stream that already exists (a restart on the same data directory) is kept as it is.
"""

from __future__ import annotations

import logging

from shardflow import errors
from shardflow.engine.engine import Engine
from shardflow.model.stream_spec import StreamSpec, StreamSpecError

log = logging.getLogger("shardflow")


async def create_initial_streams(engine: Engine, specs: tuple[StreamSpec, ...]) -> None:
    """Create each stream not there yet; StreamSpecError if the server refuses one."""
    for spec in specs:
        if any(s.name == spec.name for s in engine.live_streams()):
            log.info("stream %s exists already; kept as it is", spec.name)
            continue
        try:
            await engine.create_stream(spec.name, spec.shards, spec.mode, {}, delay_ms=0)
        except errors.KinesisError as exc:  # e.g. beyond --shard-limit
            raise StreamSpecError(f"cannot create stream {spec.name}: {exc.message}") from exc
        shards = engine.streams[spec.name].open_shard_count
        log.info("created stream %s (%s, %d shards)", spec.name, spec.mode, shards)
