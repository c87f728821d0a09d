"""The data directory before anything opens it: private modes, and the right kind of files.

Records are nobody else's business on a shared machine: the directory is made 0700 and every
database, journal and key file 0600, whatever the umask (SQLite gives its -wal and -shm files
the mode of the database file, so creating that file 0600 first is enough). A directory that
already exists with looser modes is left as it is, with a warning: its owner may share it on
purpose.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from shardflow.storage.refusal import DataDirError, damaged

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
SQLITE_SUFFIXES = ("", "-wal", "-shm")
# Files of the data directory that hold records, keys or history: kept 0600.
PRIVATE_GLOBS = ("*.sqlite3", "*.sqlite3-wal", "*.sqlite3-shm", "*.log", "tls/*key.pem")


def prepare(directory: Path) -> None:
    """Create the data directory 0700, or check an existing one (a directory we may write)."""
    if directory.exists() or directory.is_symlink():
        if not directory.is_dir():
            raise DataDirError(
                directory,
                "is not a directory",
                "point --data-dir at a directory, or move this file away",
            )
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "the data directory %s is open to other users (mode %03o): anyone on this"
                " machine may read its records; `chmod 700 %s` makes it private",
                directory,
                mode,
                directory,
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            raise DataDirError(
                directory,
                "is not writable by this user",
                "fix its owner or mode, or choose another --data-dir",
            )
        return
    try:
        directory.mkdir(parents=True, mode=DIR_MODE)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise DataDirError(
            directory,
            f"cannot be created ({exc.strerror})",
            "create it, or choose another --data-dir",
        ) from exc


def secure_files(directory: Path) -> None:
    """Make the data directory's private files 0600 (they may predate this rule)."""
    for pattern in PRIVATE_GLOBS:
        for path in directory.glob(pattern):
            if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, FILE_MODE)


def check_regular(path: Path) -> None:
    """A file the server keeps must be a regular file when it exists."""
    if (path.exists() or path.is_symlink()) and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise DataDirError(
            path, f"is {kind} where a file belongs", "move it away (the server creates the file)"
        )


def prepare_database(path: Path) -> None:
    """Check a SQLite database file and its journals, or create it empty with mode 0600."""
    for suffix in SQLITE_SUFFIXES:
        check_regular(Path(str(path) + suffix))
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise damaged(path, f"is not a SQLite database (it starts with {header[:8]!r})")
