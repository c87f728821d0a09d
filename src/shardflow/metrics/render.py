"""Where scrapes, dashboards and CloudWatch queries are computed: one worker thread, off the loop.

The event loop copies what a read needs (cheap); the thread does the rest (the expensive part),
handing the GIL back to the loop every ``RENDER_SWITCH_S`` instead of the default 5 ms while it
works, so API calls answer during a large render. One thread: concurrent scrapes queue there
instead of taking both cores.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

RENDER_SWITCH_S = 0.0005
_RENDERER = ThreadPoolExecutor(1, thread_name_prefix="shardflow-render")


async def off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_RENDERER, _yielding, work)


def _yielding(work: Callable[[], T]) -> T:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(RENDER_SWITCH_S)
    try:
        return work()
    finally:
        sys.setswitchinterval(previous)
