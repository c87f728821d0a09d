"""Read what the KCL app (clients/kcl) wrote, and check it against what was acknowledged.

Each worker appends JSON lines (see ProcessedLog.java): ``rec`` for a processed record, ``ckpt``
after a checkpoint succeeded, ``init`` when it takes a lease (with the checkpoint it resumes
from), ``end`` after a shard's SHARD_END checkpoint, ``lost``/``shutdown`` when a lease goes.
A *session* is one worker's tenure of one shard, from its ``init``.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# KCL's checkpoint sentinels: a real sequence number is all digits.
SHARD_END = "SHARD_END"
RELEASE_EVENTS = ("lost", "end", "shutdown")


@dataclass
class Session:
    worker: str
    shard: str
    start: str  # the checkpoint the lease resumed from (a sequence number or a sentinel)
    records: list[dict[str, Any]] = field(default_factory=list)


def read_events(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every worker's lines, in time order (one machine, one clock). A torn last line, from a
    ``kill -9`` mid-write, is left out: its record was never checkpointed."""
    events: list[dict[str, Any]] = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    events.sort(key=lambda e: e["ms"])
    return events


def data_of(event: dict[str, Any]) -> bytes:
    return base64.b64decode(event["data"])


def sessions(events: list[dict[str, Any]]) -> list[Session]:
    """Split each worker's records into sessions, one per ``init``."""
    current: dict[tuple[str, str], Session] = {}
    out: list[Session] = []
    for e in events:
        key = (e["worker"], e["shard"])
        if e["ev"] == "init":
            current[key] = Session(e["worker"], e["shard"], e["seq"])
            out.append(current[key])
        elif e["ev"] == "rec":
            current[key].records.append(e)
    return out


def holders(events: list[dict[str, Any]]) -> dict[str, str]:
    """Shard -> the worker holding its lease now (an ``init`` with no release after it)."""
    held: dict[str, str] = {}
    for e in events:
        if e["ev"] == "init":
            held[e["shard"]] = e["worker"]
        elif e["ev"] in RELEASE_EVENTS and held.get(e["shard"]) == e["worker"]:
            del held[e["shard"]]
    return held


def processed(events: list[dict[str, Any]]) -> dict[tuple[str, str], bytes]:
    """(shard, sequence number) -> data, over every worker (redeliveries collapse)."""
    return {(e["shard"], e["seq"]): data_of(e) for e in events if e["ev"] == "rec"}


def order_problems(all_sessions: list[Session]) -> list[str]:
    """Within each session: sequence numbers strictly increase, each key's counter strictly
    increases, and the first record comes after the checkpoint the session resumed from."""
    problems: list[str] = []
    for s in all_sessions:
        last_seq = int(s.start) if s.start.isdigit() else -1
        last_n: dict[str, int] = {}
        for r in s.records:
            seq = int(r["seq"])
            if seq <= last_seq:
                problems.append(f"{s.worker} {s.shard}: seq {seq} after {last_seq}")
            last_seq = seq
            body = json.loads(data_of(r))
            if body["n"] <= last_n.get(body["k"], -1):
                problems.append(f"{s.worker} {s.shard}: key {body['k']} n={body['n']} late")
            last_n[body["k"]] = body["n"]
    return problems


def checkpoint_problems(events: list[dict[str, Any]]) -> list[str]:
    """Checkpoints of a shard never go back, whichever worker takes them, and a lease taken over
    resumes at or after the last checkpoint logged before it."""
    problems: list[str] = []
    last: dict[str, int] = defaultdict(lambda: -1)
    for e in events:
        if e["ev"] == "ckpt":
            seq = int(e["seq"])
            if seq < last[e["shard"]]:
                problems.append(f"{e['shard']}: checkpoint {seq} after {last[e['shard']]}")
            last[e["shard"]] = seq
        elif e["ev"] == "init" and e["seq"].isdigit() and int(e["seq"]) < last[e["shard"]]:
            # a kill between a checkpoint and its log line moves the resume point later, not earlier
            problems.append(f"{e['worker']} {e['shard']}: resumed at {e['seq']}, before a ckpt")
    return problems


def first_time(events: list[dict[str, Any]], ev: str, shard: str) -> int | None:
    return next((e["ms"] for e in events if e["ev"] == ev and e["shard"] == shard), None)
