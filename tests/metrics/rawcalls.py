"""Many Kinesis JSON calls, fast: keep-alive HTTP/1.1 on raw sockets from a few threads.

boto3 spends ~1 ms of client CPU per call; 100,000 calls on a shared 2-core machine need a
client that spends almost nothing, so the server is what is measured.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKID/{day}/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def request(host: str, operation: str, params: dict[str, object]) -> bytes:
    body = json.dumps(params).encode()
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: Kinesis_20131202.{operation}\r\nX-Amz-Date: {amz_date}\r\n"
        f"Authorization: {_AUTH.format(day=amz_date[:8])}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_response(reader: socket.SocketIO, buffer: bytearray) -> tuple[int, str]:
    """(status, error type or "") of one response; ``buffer`` keeps what follows it."""
    while b"\r\n\r\n" not in buffer:
        chunk = reader.read(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:])
    lowered = {k.lower(): v for k, v in headers.items()}
    length = int(lowered.get("content-length", "0"))
    while len(rest) < length:
        chunk = reader.read(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    buffer[:] = rest[length:]
    return status, lowered.get("x-amzn-errortype", "").split(":", 1)[0]


def send_all(
    endpoint: str, requests: Sequence[bytes], threads: int = 4
) -> Counter[tuple[int, str]]:
    """Send every request (each answered before the next on its connection); count outcomes."""
    url = urlsplit(endpoint)
    assert url.hostname is not None and url.port is not None
    outcomes: Counter[tuple[int, str]] = Counter()
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker(part: Sequence[bytes]) -> None:
        mine: Counter[tuple[int, str]] = Counter()
        try:
            with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader = sock.makefile("rb", buffering=0)
                buffer = bytearray()
                for raw in part:
                    sock.sendall(raw)
                    mine[_read_response(reader, buffer)] += 1  # type: ignore[arg-type]
        except BaseException as exc:
            failures.append(exc)
        with lock:
            outcomes.update(mine)

    chunks = [requests[i::threads] for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise failures[0]
    return outcomes
