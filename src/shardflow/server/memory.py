"""Give freed memory back to the system, so RSS comes down after a burst of abuse.

Two allocators share the process: glibc's (Python) and jemalloc (granian's Rust side).

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which
large buffers (request bodies, event-stream frames, GetRecords pages) come from the heap, and
freeing them leaves holes it does not return: measured, 40 stalled SubscribeToShard streams left
RSS at +190 MiB after the clients were gone. Fixed thresholds keep such buffers in their own
mappings, returned on free (tests/test_abuse_memory.py: back within 10 % of the start).

granian's jemalloc purges freed pages only when it allocates again (no background thread by
default): 200 partial request bodies left RSS at +58 MiB for good. Its configuration is read once,
from ``_RJEM_MALLOC_CONF`` (tikv-jemallocator's prefix), when granian's library loads: so it is
set before the first import of granian, unless the user set it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 1024 * 1024


def trim() -> bool:
    """Return the free pages inside glibc's heap to the system (malloc_trim), after many partial
    request bodies, each read in pieces below the mmap threshold, were dropped at once."""
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return False


def return_freed_memory() -> bool:
    """Set fixed malloc thresholds (glibc only; elsewhere nothing changes) and granian's
    jemalloc purging (before granian is imported)."""
    if "granian._granian" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    else:
        log.debug("granian already loaded: its allocator keeps its defaults")
    try:  # libc is loaded already: find_library("c") would run ldconfig on every start
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not ok:
        log.debug("mallopt refused the thresholds")
    return ok
