"""One HTTP/1.1 connection on the event loop: parse (httptools), queue, answer in order.

``server.h1front`` holds what the connections share and says why this front exists. Here: the
parser's callbacks gather a request; complete requests queue and one task answers them in order
(pipelining); a head or body left incomplete carries a deadline that the front's sweep enforces;
streamed bodies (SubscribeToShard) go out in chunked encoding, paced by ``server.flow``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import httptools

from shardflow.server import transport as carry
from shardflow.server.request import HttpRequest
from shardflow.server.response import Response

if TYPE_CHECKING:
    from shardflow.server.h1front import Front

log = logging.getLogger("shardflow.http")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEAD, _BODY = 1, 2  # what an incomplete request is waiting for
MAX_QUEUED = 32  # pipelined requests held before the connection stops being read
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_PLAIN = [("content-type", "text/plain")]


@dataclass(slots=True)
class Queued:
    """A complete request waiting for its answer, or a refusal to send in its turn."""

    request: HttpRequest
    keep_alive: bool
    refusal: int = 0  # answer this status and close, instead of calling the app


_NO_REQUEST = HttpRequest("", "", {}, "", b"")


class _Refused(Exception):
    """A request the parser must stop at (its answer is already decided)."""

    def __init__(self, status: int) -> None:
        self.status = status


class Connection(asyncio.Protocol):
    """One client connection: parse, queue, answer in order."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.limits = front.limits
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.parser: Any = None  # made at the first byte that is not the HTTP/2 preface
        self.sniffed = b""
        self.queue: deque[Queued] = deque()
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.close_after = False  # stop once the queued answers are out
        self.paused = False
        self.writable: asyncio.Future[None] | None = None
        self.waiting = 0  # _HEAD or _BODY while one is incomplete
        self.owed = 0  # body bytes of a declined Upgrade request still to come
        self.deadline = 0.0  # when the incomplete one times out (time.monotonic)
        self._fresh()

    def _fresh(self) -> None:
        self.in_head = False
        self.in_body = False
        self.url = b""
        self.method = ""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers: dict[str, str] = {}
        self.head_bytes = 0
        self.chunks: list[bytes] = []
        self.body_bytes = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""
        self.front.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._drop()
        self.front.connections.discard(self)
        self.front.released()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def data_received(self, data: bytes) -> None:
        if self.owed:
            data = self._take_owed(data)
            if not data:
                return
        if self.parser is None:
            if self._sniff(data):
                return
            data, self.sniffed = self.sniffed, b""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._refuse(cause.status if isinstance(cause, _Refused) else 400)
            return
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_declined(data[exc.args[0] :])
            return
        except httptools.HttpParserError:
            self._refuse(400)
            return
        waiting = _HEAD if self.in_head else _BODY if self.in_body else 0
        if waiting != self.waiting:  # the rest of a head or a body is due: by when (Front.sweep)
            self.waiting = waiting
            limits = self.limits
            timeout = limits.header_timeout_s if waiting == _HEAD else limits.body_timeout_s
            self.deadline = time.monotonic() + timeout if waiting else 0.0

    def eof_received(self) -> bool:
        if self.task is None and not self.queue:
            return False  # nothing owed: close
        self.close_after = True
        return True  # the answers owed still go out, then the connection closes

    def _sniff(self, data: bytes) -> bool:
        """True while the first bytes may still be the HTTP/2 preface, or once spliced."""
        self.sniffed += data
        seen = self.sniffed
        if seen.startswith(H2_PREFACE[: len(seen)]) and len(seen) < len(H2_PREFACE):
            return True
        if seen.startswith(H2_PREFACE):
            assert self.transport is not None
            self.front.connections.discard(self)
            self.front.splice(self.transport, seen, self.peer, self.front.released)
            return True
        self.parser = httptools.HttpRequestParser(self)
        return False

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._fresh()
        self.in_head = True

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > self.limits.max_header_bytes:
            raise _Refused(431)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > self.limits.max_header_bytes:
            raise _Refused(431)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.method = self.parser.get_method().decode("ascii")
        self.headers = {
            n.decode("latin-1").lower(): v.decode("latin-1") for n, v in self.raw_headers
        }
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_body:
            raise _Refused(413)  # answered now; the body is never read
        self.in_body = True
        if self.headers.get("expect", "").lower() == "100-continue" and self.transport:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.max_body:
            raise _Refused(413)
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.in_body = False
        if self.parser.should_upgrade():
            return  # llhttp leaves the body unread: _upgrade_declined reads it
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._enqueue(body, keep_alive=self.parser.should_keep_alive())

    def _upgrade_declined(self, rest: bytes) -> None:
        """An Upgrade request (curl's cleartext h2c) is answered in HTTP/1.1, as hyper does.
        llhttp stops at its head; its body (Content-Length framed) is read here, then a fresh
        parser takes what follows."""
        self.parser = httptools.HttpRequestParser(self)
        declared = self.headers.get("content-length", "0")
        self.owed = int(declared) if declared.isdigit() else 0
        self.chunks = []
        self.in_body = self.owed > 0
        rest = self._take_owed(rest)
        if rest:
            self.data_received(rest)

    def _take_owed(self, data: bytes) -> bytes:
        """Collect an upgrade request's body; what follows it."""
        piece, rest = data[: self.owed], data[self.owed :]
        self.owed -= len(piece)
        self.body_bytes += len(piece)
        if piece:
            self.chunks.append(piece)
        if self.owed == 0:
            self.in_body = False
            self._enqueue(b"".join(self.chunks), keep_alive=True)
        return rest

    # -- answering ----------------------------------------------------------------------------

    def _enqueue(self, body: bytes, keep_alive: bool) -> None:
        path, _, query = self.url.decode("latin-1").partition("?")
        if not path.startswith("/"):  # absolute form: http://host/path
            path = httptools.parse_url(self.url).path.decode("latin-1")
        request = HttpRequest(self.method, path, self.headers, query, body)
        self.queue.append(Queued(request, keep_alive))
        self._start()

    def _start(self) -> None:
        if len(self.queue) >= MAX_QUEUED and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._answer_all())

    async def _answer_all(self) -> None:
        try:
            while self.queue and not self.closed:
                queued = self.queue.popleft()
                if self.paused and len(self.queue) < MAX_QUEUED // 2 and self.transport:
                    self.paused = False
                    self.transport.resume_reading()
                keep = await self._answer(queued)
                if not keep:
                    self._close()
                    return
                if self.writable is not None:
                    await self.writable
        except Exception:
            log.exception("answering %s failed", self.peer)
            self._close()
        finally:
            self.task = None
        if self.close_after or self.front.closing:
            self._close()

    async def _answer(self, queued: Queued) -> bool:
        """Send one answer; False when the connection must close after it."""
        if queued.refusal:
            self._write(Response(queued.refusal, _PLAIN, b""), keep=False)
            return False
        request = queued.request
        response = await self.front.app.respond(request)
        keep = queued.keep_alive and not self.front.closing
        if response.stream is not None:
            await self._stream(request, response)
            return keep and not self.closed
        head_only = request.method == "HEAD"
        sender = self.front.sender
        if (
            self.transport is not None
            and not head_only
            and sender.takes(self.transport, len(response.body))
        ):
            head = self._head(response, keep, b"content-length: %d\r\n" % len(response.body))
            timeout = self.limits.body_timeout_s
            if not await sender.send(self.transport, head, response.body, timeout):
                return False  # the client is gone, or reads nothing
            return keep
        self._write(response, keep, head_only)
        return keep

    def _head(self, response: Response, keep: bool, extra: bytes) -> bytes:
        status = response.status
        fields = "".join([f"{name}: {value}\r\n" for name, value in response.headers])
        return b"HTTP/1.1 %d %s\r\n%s%s%s%s\r\n" % (
            status,
            _REASONS.get(status, b""),
            fields.encode("latin-1"),
            self.front.date_header.date(),
            extra,
            b"" if keep else b"connection: close\r\n",
        )

    def _write(self, response: Response, keep: bool, head_only: bool = False) -> None:
        if self.transport is None or self.closed:
            return
        body = response.body
        head = self._head(response, keep, b"content-length: %d\r\n" % len(body))
        if head_only:
            self.transport.write(head)
        elif len(body) < 65536:
            self.transport.write(head + body)
        else:
            self.transport.writelines((head, body))

    async def _stream(self, request: HttpRequest, response: Response) -> None:
        """A streamed body in chunked encoding, paced by what the client's TCP acknowledged."""
        assert self.transport is not None
        flow, peer, write = self.front.flow, self.peer, self.transport.write
        write(self._head(response, True, b"transfer-encoding: chunked\r\n"))
        if flow is None or not flow.open(peer):
            await carry.stream_chunked(write, lambda: self.closed, response)
            return
        stalled = carry.stall_frame(request.headers.get("content-type", ""), flow.stall_s)
        try:
            room = functools.partial(flow.room, peer)
            await carry.stream_chunked(write, lambda: self.closed, response, room, stalled)
        finally:
            flow.close(peer)

    # -- refusals, timeouts, closing ----------------------------------------------------------

    def _refuse(self, status: int) -> None:
        """Answer ``status`` and close: the stream of requests cannot be followed past here."""
        self.parser = _Ignore()
        self.in_head = self.in_body = False
        self.waiting = 0
        if self.task is None:
            self._write(Response(status, _PLAIN, b""), keep=False)
            self._close()
        else:  # after the answers owed
            self.queue.append(Queued(_NO_REQUEST, False, refusal=status))

    def timed_out(self) -> None:
        """The head or the body in progress is overdue: 408, and the connection closes."""
        if self.waiting == _BODY:
            self.front.slow_log.warning("body", carry.SLOW_BODY, self.limits.body_timeout_s)
            text = b"request body timed out\n"
        else:
            text = b"request header timed out\n"
        self._drop()
        self.parser = _Ignore()
        if self.task is None:
            self._write(Response(408, _PLAIN, text), keep=False)
        self._close()

    def _drop(self) -> None:
        """Forget a partial request (its bytes count towards returning memory)."""
        if self.waiting:
            self.front.dropped += self.head_bytes + self.body_bytes
            self.chunks = []
        self.waiting = 0

    def close_when_idle(self) -> None:
        if self.task is None and not self.in_head and not self.in_body:
            self._close()
        else:
            self.close_after = True

    def _close(self) -> None:
        self.closed = True
        self.waiting = 0
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()


class _Ignore:
    """The parser of a connection that is closing: whatever else arrives is dropped."""

    def feed_data(self, data: bytes) -> None:
        pass

    def should_keep_alive(self) -> bool:
        return False
