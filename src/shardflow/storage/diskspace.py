"""A full disk: tell clients and the log why writes fail, once per episode, and the free space.

SQLite reports a write that hits ENOSPC as SQLITE_FULL ("database or disk is full") and rolls
the transaction back, so nothing acknowledged is touched; the next commit simply tries again,
and writes resume by themselves once space returns.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
from pathlib import Path

from shardflow import errors
from shardflow.storage.refusal import DataDirError

log = logging.getLogger(__name__)

SQLITE_FULL = 13  # sqlite3.h: "Insertion failed because database is full"
# At start-up, an error opening a database with less than this free is put down to the disk
# (SQLite reports a -shm or -wal it cannot create as a "disk I/O error", not SQLITE_FULL).
LOW_SPACE_BYTES = 1024 * 1024


def is_disk_full(exc: BaseException) -> bool:
    """A write failed for lack of space (SQLite's SQLITE_FULL, or ENOSPC/EDQUOT from the OS)."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(directory: Path) -> int | None:
    """Bytes available to this process on the data directory's filesystem (None: unknown)."""
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def full_disk_refusal(path: Path, exc: BaseException) -> DataDirError | None:
    """The start-up refusal for a database that cannot be opened because its disk is full."""
    free = free_bytes(path.parent)
    if is_disk_full(exc) or (free is not None and free < LOW_SPACE_BYTES):
        return DataDirError(
            path,
            f"cannot be opened: the disk holding it is full ({free} bytes free; {exc})",
            "free space on that disk and start again",
        )
    return None


class DiskFullEpisodes:
    """Logs the start and the end of each stretch of time the disk stays full (not every write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.full = False
        self.refused = 0  # writes refused in the current episode
        self.episodes = 0
        self.checkpoint_blocked = False  # the checkpointer hit the full disk (logged once)

    def error(self) -> errors.ServiceUnavailable:
        """AWS's shape for a temporary server-side failure, saying why and what happens next."""
        return errors.ServiceUnavailable(
            f"The disk holding the data directory {self.directory} is full: the write was not"
            " stored. Writes resume by themselves once space is freed."
        )

    def refused_writes(self, count: int) -> None:
        if not self.full:
            self.full = True
            self.episodes += 1
            log.error(
                "disk full: the data directory %s has no space left (%s bytes free);"
                " writes are refused until space is freed, nothing acknowledged is affected",
                self.directory,
                free_bytes(self.directory),
            )
        self.refused += count

    def checkpoint_failed(self) -> None:
        """The checkpointer could not copy the WAL into the database (it retries)."""
        if not self.checkpoint_blocked:
            self.checkpoint_blocked = True
            log.warning(
                "disk full: checkpoints of %s wait for space (the WAL grows meanwhile)",
                self.directory,
            )

    def checkpoint_done(self) -> None:
        self.checkpoint_blocked = False

    def committed(self) -> None:
        if self.full:
            self.full = False
            log.warning(
                "disk space is available again in %s: writes resumed (%d refused while full)",
                self.directory,
                self.refused,
            )
            self.refused = 0
