"""Log lines that abuse would repeat: once per cause, then at most once a minute with a count."""

from __future__ import annotations

import logging
import time
from typing import Any

INTERVAL_S = 60.0


class RateLimitedLog:
    """``warning(cause, msg, ...)`` logs the first time for ``cause``, then once per interval,
    adding how many were suppressed in between: a flood of bad clients is one line a minute."""

    def __init__(self, logger: logging.Logger, interval_s: float = INTERVAL_S) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, cause: str, msg: str, *args: Any) -> None:
        self._emit(logging.WARNING, cause, msg, args)

    def info(self, cause: str, msg: str, *args: Any) -> None:
        self._emit(logging.INFO, cause, msg, args)

    def _emit(self, level: int, cause: str, msg: str, args: tuple[Any, ...]) -> None:
        now = time.monotonic()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval_s:
            self._suppressed[cause] = self._suppressed.get(cause, 0) + 1
            return
        self._last[cause] = now
        suppressed = self._suppressed.pop(cause, 0)
        if suppressed:
            msg += f" ({suppressed} more since the last such line)"
        self.logger.log(level, msg, *args)
