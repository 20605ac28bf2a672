"""Taking a connection away from uvicorn when a client upgrades it for exec, attach or
port-forward.

ASGI has no way to hand over a raw connection, and the streaming endpoints need one: SPDY/3.1 is
not WebSocket, and both carry Kubernetes' own framing. uvicorn's h11 protocol already detaches a
connection for a WebSocket upgrade and gives it, with the request head replayed, to a
``ws`` protocol class; :func:`protocols` returns an h11 subclass that does so for WebSocket and
SPDY upgrades on the streaming paths only, and the protocol that receives them. Every other
request, upgrade or not, stays with the ASGI application.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("turnout.api.stream")

STREAM_PATH = re.compile(r"^/api/v1/namespaces/[^/]+/pods/[^/]+/(exec|attach|portforward)/?$")
UPGRADES = (b"websocket", b"spdy/3.1")
MAX_HEAD = 64 << 10


@dataclass(frozen=True)
class Head:
    """The upgrade request: method, path, query and headers (names lower case)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, list[str]]

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower()) or [""]
        return values[0]

    def flag(self, name: str) -> bool:
        return (self.query.get(name) or [""])[-1].lower() in ("1", "true")


def parse_head(raw: bytes) -> Head:
    """An HTTP/1.1 request head (up to the empty line); ValueError if it is not one."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"not an HTTP request line: {lines[0][:80]!r}")
    target = urlsplit(parts[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line {line[:80]!r}")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Head(parts[0], unquote(target.path), parse_qs(target.query, keep_blank_values=True),
                headers)


class Conn:
    """The raw connection after the takeover: a reader, writes with back-pressure, close."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.reader = asyncio.StreamReader(limit=MAX_HEAD)
        self.reader.set_transport(transport)
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.lost = asyncio.Event()

    async def write(self, data: bytes) -> None:
        if self.lost.is_set() or self.transport.is_closing():
            raise ConnectionResetError("the client has gone")
        self.transport.write(data)
        await self._can_write.wait()

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


Handler = Callable[[Conn], Awaitable[None]]


class UpgradeProtocol(asyncio.Protocol):
    """Receives a detached connection (request head first) and runs ``handler`` on it."""

    handler: Handler

    def __init__(self, config: Any, server_state: Any, app_state: Any) -> None:
        self.server_state = server_state
        self.conn: Conn | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.conn = Conn(transport)
        self.server_state.connections.add(self)
        self.task = asyncio.get_running_loop().create_task(self._run(self.conn))

    async def _run(self, conn: Conn) -> None:
        try:
            await type(self).handler(conn)
        except Exception:
            log.exception("streaming connection failed")
            count("handler_failed")
        finally:
            conn.close()

    def data_received(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.reader.feed_data(data)

    def eof_received(self) -> bool | None:
        if self.conn is not None:
            self.conn.reader.feed_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        if self.conn is not None:
            self.conn.lost.set()
            self.conn._can_write.set()
            self.conn.reader.feed_eof()

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.conn._can_write.clear()

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.conn._can_write.set()

    def shutdown(self) -> None:
        """uvicorn stops: end the stream (the handler sees the connection close)."""
        if self.conn is not None:
            self.conn.close()


COUNTERS: Counter[str] = Counter()
"""Things that went wrong on streaming connections, by kind (read by tests and logs)."""


def count(kind: str) -> None:
    COUNTERS[kind] += 1


def protocols(handler: Handler) -> tuple[type[H11Protocol], type[UpgradeProtocol]]:
    """(http, ws) protocol classes for ``uvicorn.Config`` that route streaming upgrades to
    ``handler``."""

    class StreamingUpgrade(UpgradeProtocol):
        pass

    StreamingUpgrade.handler = staticmethod(handler)

    class StreamingH11(H11Protocol):
        _streaming = False

        def _should_upgrade(self) -> bool:
            upgrade = self._get_upgrade()
            self._streaming = bool(upgrade in UPGRADES and STREAM_PATH.match(self.scope["path"]))
            return self._streaming or super()._should_upgrade()

        def handle_websocket_upgrade(self, event: Any) -> None:
            if not self._streaming:
                super().handle_websocket_upgrade(event)
                return
            # the streaming protocol answers these; uvicorn's own WebSocket class (when one is
            # installed) keeps every other upgrade
            saved = self.ws_protocol_class
            self.ws_protocol_class = StreamingUpgrade
            try:
                super().handle_websocket_upgrade(event)
            finally:
                self.ws_protocol_class = saved

    return StreamingH11, StreamingUpgrade
