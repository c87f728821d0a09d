"""Where the peer emulators live: the scripts that run them, and the directory they install into.

The scripts are /work/shared/peers' layout, laid beside the checkout (``<repo>/../shared/peers``,
read-only in CI); ``SHARDFLOW_PEERS_SCRIPTS`` or ``--peers-scripts`` points elsewhere. What they
install goes under ``PEERS`` (``--peers``), by default ``~/.cache/shardflow-peers``, the same
default as ``install.sh`` and ``start.sh``, which read the same variable.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path.home() / ".cache" / "shardflow-peers"
DEFAULT_SCRIPTS = REPO.parent / "shared" / "peers"


def home() -> Path:
    """The install directory of the peers (``$PEERS``)."""
    return Path(os.environ.get("PEERS") or DEFAULT_HOME)


def scripts() -> Path:
    """The directory holding install.sh, start.sh, stop.sh and loopback_guard.sh."""
    return Path(os.environ.get("SHARDFLOW_PEERS_SCRIPTS") or DEFAULT_SCRIPTS)


def use(peers_home: str | None = None, peers_scripts: str | None = None) -> None:
    """Apply ``--peers`` / ``--peers-scripts``: through the environment, so that the scripts (and
    any subprocess) see the same directories as this process."""
    if peers_home:
        os.environ["PEERS"] = str(Path(peers_home).expanduser().resolve())
    if peers_scripts:
        os.environ["SHARDFLOW_PEERS_SCRIPTS"] = str(Path(peers_scripts).expanduser().resolve())


# What install.sh leaves behind for each peer, to say "not installed" before start.sh fails.
_INSTALLED = {
    "kinesalite": "node_modules/kinesalite/package.json",
    "kinesis-local": "kinesis-local-loopback.js",
    "moto": "venv/bin/python",
}


def missing(name: str) -> str | None:
    """Why the peer ``name`` cannot start here, or None if its scripts and install are present."""
    if not (scripts() / "start.sh").exists():
        return (
            f"no peer scripts in {scripts()} (set SHARDFLOW_PEERS_SCRIPTS or --peers-scripts to"
            " the directory of install.sh and start.sh)"
        )
    base = name.removesuffix("-defaults").removesuffix("-disk")
    marker = _INSTALLED.get(base)
    if marker is not None and not (home() / marker).exists():
        return (
            f"{name} is not installed under {home()} (run {scripts() / 'install.sh'}, or pass"
            " --install-peers; PEERS or --peers picks another directory)"
        )
    return None
