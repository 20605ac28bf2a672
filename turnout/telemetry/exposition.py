"""A plain-HTTP `/metrics` endpoint on 127.0.0.1 for Prometheus to scrape.

Deliberately tiny (asyncio streams, one request per connection): Prometheus needs GET /metrics
and, for pods' own metrics, GET /sd/pods (HTTP service discovery: addresses and labels of pods
annotated for scraping, nothing else), and this keeps the scrape off the authenticated API server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from turnout.telemetry import scrape
from turnout.types import Obj

log = logging.getLogger("turnout.telemetry")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsServer:
    def __init__(self, render: Callable[[], str], port: int, host: str = "127.0.0.1",
                 targets: Callable[[], list[Obj]] | None = None) -> None:
        self.render = render
        self.targets = targets
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._handlers:  # let scrapes in flight finish (each is bounded by its timeout)
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = target.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif path == "/metrics":
                text = await asyncio.to_thread(self.render)
                status, body, ctype = "200 OK", text.encode(), CONTENT_TYPE
            elif path == scrape.SD_PATH and self.targets is not None:
                groups = await asyncio.to_thread(self.targets)
                status, body, ctype = "200 OK", json.dumps(groups).encode(), "application/json"
            else:
                status, body, ctype = "404 Not Found", b"see /metrics\n", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError, ValueError) as e:
            log.debug("metrics request failed: %s", e)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
