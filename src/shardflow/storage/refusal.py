"""Start-up refusals caused by the data directory, each said in one line.

A refusal names the file, what is wrong with it and what to do; ``shardflow serve`` prints it
and exits with code 2 (``--debug`` adds the traceback). The remedies an operator has:
"""

from __future__ import annotations

from pathlib import Path

EXIT_CODE = 2  # a data-directory refusal (click uses 1 for its own errors, 2 for usage)

RESTORE = "restore the data directory from a backup"
CHECK = "run `shardflow check-data` for a report"
REPAIR = "`shardflow check-data --repair` moves the damaged records aside"
ACCEPT = "`shardflow serve --accept-data-loss` starts read-only on what is left"


class DataDirError(Exception):
    """The data directory cannot be served as it is."""

    def __init__(self, path: Path | str, problem: str, remedy: str) -> None:
        super().__init__(f"{path}: {problem}; {remedy}")
        self.path = Path(path)
        self.problem = problem
        self.remedy = remedy

    def line(self) -> str:
        """The one line printed on refusal (newlines inside a message are flattened)."""
        return " ".join(str(self).split())


def damaged(path: Path | str, problem: str) -> DataDirError:
    """A refusal for a damaged file: every remedy applies."""
    return DataDirError(path, problem, f"{CHECK}, {RESTORE}, or {REPAIR}")
