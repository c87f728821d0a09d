"""Shardflow in your tests: a fresh in-memory Kinesis server, a boto3 client bound to it.

``with shardflow.testing.server() as s:`` for unittest and scripts; the pytest plugin
(``shardflow.testing.pytest_plugin``, loaded through the ``pytest11`` entry point) gives the same
as fixtures. docs/testing.md shows both.
"""

from shardflow.testing.server import ShardflowServer, server

__all__ = ["ShardflowServer", "server"]
