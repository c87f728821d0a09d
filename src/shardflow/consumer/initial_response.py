"""Let boto3 read a SubscribeToShard stream that starts without an ``initial-response`` event.

AWS opens every SubscribeToShard event stream with an ``initial-response`` event, and botocore
refuses a stream without one (``First event was not of type initial-response``) before the
caller sees any event. Some Kinesis implementations (kinesis-mock 0.6.2) send the
SubscribeToShardEvents straight away. For those, and only for those, the stream is handed to
botocore's parser with an empty ``initial-response`` event in front (SubscribeToShard's output
has no member besides the event stream, so nothing is lost); a stream that has one is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.eventstream import EventStreamBuffer

from shardflow.wire import eventstream

EVENT_NAME = "before-parse.kinesis.SubscribeToShard"
_INITIAL_RESPONSE = eventstream.event("initial-response", b"{}", "application/json")


def tolerate_missing_initial_response(client: Any) -> None:
    """Register the fix-up on a botocore Kinesis client (idempotent)."""
    client.meta.events.register(
        EVENT_NAME, _wrap_body, unique_id="shardflow-missing-initial-response"
    )


def _wrap_body(response_dict: dict[str, Any], **_: Any) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code") == 200 and hasattr(body, "stream"):
        response_dict["body"] = InitialResponseFirst(body)


class InitialResponseFirst:
    """A streaming HTTP body whose event stream is made to begin with ``initial-response``."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        chunks = self._raw.stream(*args, **kwargs)
        head = b""
        first = None
        for chunk in chunks:
            head += chunk
            buffer = EventStreamBuffer()
            buffer.add_data(head)
            first = next(buffer, None)
            if first is not None:
                break
        if first is not None and first.headers.get(":event-type") != "initial-response":
            yield _INITIAL_RESPONSE
        if head:
            yield head
        yield from chunks

    def close(self) -> None:
        self._raw.close()

    def __getattr__(self, name: str) -> Any:  # the rest of urllib3's response (its connection)
        return getattr(self._raw, name)
