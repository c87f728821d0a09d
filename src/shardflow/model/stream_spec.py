"""Streams to create at start-up, written ``NAME[:SHARDS[:MODE]]`` (``serve --create-stream``).

Several may share one value, separated by commas or spaces, as in the environment variable
``SHARDFLOW_CREATE_STREAM="orders:4,clicks::ON_DEMAND"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shardflow.model.enums import StreamMode

DEFAULT_SHARDS = 1  # what a bare NAME gets: the smallest stream
MODES = (StreamMode.PROVISIONED, StreamMode.ON_DEMAND)
# CreateStream's StreamName constraints (botocore's Kinesis model): 1-128 of these characters.
_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


class StreamSpecError(ValueError):
    """A stream specification that cannot be created; the message says what to write."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    shards: int | None  # None for ON_DEMAND: AWS sizes those streams itself
    mode: str = StreamMode.PROVISIONED


def parse_stream_spec(text: str) -> StreamSpec:
    """``orders``, ``orders:4``, ``orders:4:PROVISIONED`` or ``orders::ON_DEMAND``."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise StreamSpecError(f"{text!r}: expected NAME[:SHARDS[:MODE]]")
    name = parts[0]
    if not _NAME.fullmatch(name):
        raise StreamSpecError(
            f"{text!r}: a stream name is 1 to 128 letters, digits, '_', '.' or '-'"
        )
    mode = parts[2].upper() if len(parts) == 3 and parts[2] else StreamMode.PROVISIONED
    if mode not in MODES:
        raise StreamSpecError(f"{text!r}: the mode is PROVISIONED or ON_DEMAND")
    count = parts[1] if len(parts) > 1 else ""
    if mode == StreamMode.ON_DEMAND:
        if count:
            raise StreamSpecError(f"{text!r}: an ON_DEMAND stream takes no shard count")
        return StreamSpec(name, None, mode)
    if not count:
        return StreamSpec(name, DEFAULT_SHARDS, mode)
    if not count.isdigit() or int(count) < 1:
        raise StreamSpecError(f"{text!r}: the shard count is a whole number, 1 or more")
    return StreamSpec(name, int(count), mode)


def parse_stream_specs(values: tuple[str, ...] | list[str]) -> tuple[StreamSpec, ...]:
    """Every spec in ``values``, each of which may hold several (comma or space separated)."""
    specs = [
        parse_stream_spec(item) for value in values for item in re.split(r"[,\s]+", value) if item
    ]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StreamSpecError(f"stream {duplicates[0]} is named twice")
    return tuple(specs)
