"""Which series the recorder may keep: those of streams that exist, up to a hard cap.

A request can name any stream. Keeping figures under every name a request mentions lets one
client grow the server's memory and ``/metrics`` without bound (100,000 calls naming 100,000
unknown streams made 1.6 million series). CloudWatch itself creates a ``StreamName`` dimension only
for a stream that exists; a call naming an unknown one is counted under the account (the
recorder's stream ``""``). Shards and consumers come from the engine, so they always exist; the
cap bounds them all the same (a stream can have thousands of shards).

A *series* here is one dimension set: a stream, or one of its shards or consumers (the levels of
a ``Point``). Each holds a few dozen figures at most, so the cap bounds memory and the size of a
scrape. When it is hit, the new series is not kept (its calls still count under the account),
``refused`` grows by one each time figures are dropped for want of room (once per metric and
fold, not per call: ``shardflow_metrics_series_refused_total``), and a warning is logged at most
once a minute.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Mapping

log = logging.getLogger(__name__)

# 1,000 streams x (1 + 4 shards + 2 consumers) use 7,000 (the default shard limit, 500, allows
# far fewer); /metrics is 6.5 MB for 1,000 streams x 4 shards (docs/monitoring.md).
MAX_SERIES = 10_000
WARN_INTERVAL_S = 60.0  # at most one "cap reached" line a minute, however many are refused

Exists = Callable[[str], bool]  # does a stream of this name exist now (any status)?


def any_stream(_stream: str) -> bool:
    """For a recorder with no engine to ask (benchmarks, unit tests): every name exists."""
    return True


def exists_in(streams: Mapping[str, object]) -> Exists:
    """A server's lookup: the engine's streams by name, DELETING ones included."""
    return streams.__contains__


class SeriesBudget:
    """The (stream, level) series kept, with the rule that admits new ones."""

    def __init__(
        self,
        exists: Exists = any_stream,
        max_series: int = MAX_SERIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exists = exists
        self.max_series = max_series
        self.kept: dict[str, set[str]] = {}  # stream -> its levels ("" is the stream itself)
        self.count = 0
        self.refused = 0  # times figures of a new series were dropped: the cap was reached
        self._monotonic = monotonic
        self._warned_at = -math.inf

    def stream(self, name: str) -> bool:
        """Keep figures for this stream? Yes if kept already, or it exists and the cap allows."""
        if name in self.kept:
            return True
        if not name or not self.exists(name):
            return False
        return self._take(name, "")

    def level(self, stream: str, level: str) -> bool:
        """Keep figures for a shard or consumer of a kept stream?"""
        levels = self.kept.get(stream)
        if levels is None:
            return False
        return level in levels or self._take(stream, level)

    def restore(self, stream: str, levels: Collection[str]) -> None:
        """History from disk (streams that existed then): kept whatever the cap says."""
        mine = self.kept.setdefault(stream, set())
        before = len(mine)
        mine.add("")
        mine.update(levels)
        self.count += len(mine) - before

    def forget(self, stream: str) -> None:
        self.count -= len(self.kept.pop(stream, ()))

    def _take(self, stream: str, level: str) -> bool:
        if self.count >= self.max_series:
            self.refused += 1
            now = self._monotonic()
            if now - self._warned_at >= WARN_INTERVAL_S:
                self._warned_at = now
                log.warning(
                    "metrics: the cap of %d series is reached; figures of new streams, shards"
                    " and consumers (here %s%s) are not kept (calls still count under the"
                    " account); %d refused so far (shardflow_metrics_series_refused_total)",
                    self.max_series,
                    stream,
                    f" {level}" if level else "",
                    self.refused,
                )
            return False
        self.kept.setdefault(stream, set()).add(level)
        self.count += 1
        return True
