"""The two ways a streaming connection carries Kubernetes' channels: WebSocket messages and SPDY
streams (raw after an HTTP upgrade, or tunnelled in WebSocket messages).

Both end in the same shapes for the sessions: :class:`RemoteIO` for exec/attach (stdin and
resize in, stdout/stderr/error out) and :class:`SpdySession` streams for port-forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from turnout.api.stream import channels, spdy, websocket
from turnout.api.stream.upgrade import Conn, count

log = logging.getLogger("turnout.api.stream")

READ_SIZE = 64 << 10
STREAM_WAIT = 30.0
"""How long an SPDY exec waits for the client to open the streams it asked for (the kubelet's
``streamCreationTimeout`` default)."""


class WsConn:
    """A server-side WebSocket over a detached connection: pings are answered here."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.parser = websocket.Parser()
        self._pending: list[websocket.Message] = []
        self.closed = False

    async def recv(self) -> websocket.Message | None:
        """The next TEXT/BINARY message; None once the client closed or left."""
        while True:
            while self._pending:
                msg = self._pending.pop(0)
                if msg.opcode == websocket.PING:
                    await self.send(websocket.encode(websocket.PONG, msg.payload))
                elif msg.opcode == websocket.CLOSE:
                    await self.close()
                    return None
                elif msg.opcode != websocket.PONG:
                    return msg
            data = await self.conn.reader.read(READ_SIZE)
            if not data:
                self.closed = True
                return None
            try:
                self._pending = self.parser.feed(data)
            except websocket.ProtocolError as e:
                log.info("websocket protocol error from client: %s", e)
                count("websocket_protocol_error")
                await self.close(e.code, str(e))
                return None

    async def send(self, frame: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("websocket closed")
        await self.conn.write(frame)

    async def close(self, code: int = websocket.NORMAL_CLOSURE, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError):
                await self.conn.write(websocket.close_frame(code, reason))
        self.conn.close()


async def channel_messages(ws: WsConn, codec: channels.Codec, what: str
                           ) -> AsyncIterator[tuple[int, bytes]]:
    """(channel, data) of each non-empty message until the client closes; malformed ones are
    logged, counted and skipped."""
    while (msg := await ws.recv()) is not None:
        try:
            decoded = codec.decode(msg)
        except ValueError as e:
            log.info("%s: malformed channel message: %s", what, e)
            count("malformed_channel_message")
            continue
        if decoded is not None:
            yield decoded


class RemoteIO(Protocol):
    """exec/attach seen from the session: what the client sends, and how to answer."""

    stdin: asyncio.Queue[bytes | None]
    resize: asyncio.Queue[tuple[int, int]]
    gone: asyncio.Event

    async def start(self) -> None: ...

    async def send(self, channel: int, data: bytes) -> None: ...

    async def finish(self, status: bytes | None) -> None: ...


class WsRemote:
    """exec/attach channels in WebSocket messages (v5/v4/base64/v1 subprotocols)."""

    def __init__(self, ws: WsConn, codec: channels.Codec, first: int) -> None:
        self.ws = ws
        self.codec = codec
        self.first = first
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.resize: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ws.send(self.codec.encode(self.first, b""))  # "the streams are ready"
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for channel, data in channel_messages(self.ws, self.codec, "exec"):
                if channel == channels.STDIN and data:
                    self.stdin.put_nowait(data)
                elif channel == channels.RESIZE:
                    size = channels.parse_resize(data)
                    if size is not None:
                        self.resize.put_nowait(size)
                elif channel == channels.CLOSE and self.codec.closes and data[:1] == b"\x00":
                    self.stdin.put_nowait(None)
        finally:
            self.stdin.put_nowait(None)
            self.gone.set()

    async def send(self, channel: int, data: bytes) -> None:
        await self.ws.send(self.codec.encode(channel, data))

    async def finish(self, status: bytes | None) -> None:
        if status is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self.send(channels.ERROR, status)
        await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


class ByteLink(Protocol):
    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class RawLink:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def read(self) -> bytes:
        return await self.conn.reader.read(READ_SIZE)

    async def write(self, data: bytes) -> None:
        await self.conn.write(data)

    def close(self) -> None:
        self.conn.close()


class TunnelLink:
    """SPDY bytes carried in binary WebSocket messages (``SPDY/3.1+portforward.k8s.io``)."""

    def __init__(self, ws: WsConn) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while (msg := await self.ws.recv()) is not None:
            if msg.payload:
                return msg.payload
        return b""

    async def write(self, data: bytes) -> None:
        await self.ws.send(websocket.encode(websocket.BINARY, data))

    def close(self) -> None:
        asyncio.get_running_loop().create_task(self.ws.close())


class SpdyStream:
    def __init__(self, session: SpdySession, stream_id: int, headers: spdy.Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    async def read(self) -> bytes | None:
        return await self.inbound.get()

    async def write(self, data: bytes) -> None:
        if not self.closed and data:
            await self.session.link.write(self.session.writer.data(self.id, data))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError):
                await self.session.link.write(self.session.writer.data(self.id, b"", fin=True))


class SpdySession:
    """The server side of an SPDY connection: every stream the client opens is accepted."""

    def __init__(self, link: ByteLink) -> None:
        self.link = link
        self.parser = spdy.Parser()
        self.writer = spdy.Writer()
        self.streams: dict[int, SpdyStream] = {}
        self.new_streams: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self.last_id = 0

    async def run(self) -> None:
        """Read frames until the client goes; then every stream reads its end."""
        try:
            while data := await self.link.read():
                for frame in self.parser.feed(data):
                    await self._handle(frame)
        except spdy.ProtocolError as e:
            log.info("SPDY protocol error from client: %s", e)
            count("spdy_protocol_error")
        except ConnectionError as e:
            log.debug("SPDY connection ended: %s", e)
            count("spdy_connection_ended")
        finally:
            for stream in self.streams.values():
                stream.inbound.put_nowait(None)
            self.new_streams.put_nowait(None)

    async def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.Data):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return
            if frame.data:
                stream.inbound.put_nowait(frame.data)
            if frame.fin:
                stream.inbound.put_nowait(None)
            return
        if frame.kind == spdy.SYN_STREAM:
            stream = SpdyStream(self, frame.stream_id, frame.headers)
            self.streams[frame.stream_id] = stream
            self.last_id = max(self.last_id, frame.stream_id)
            await self.link.write(self.writer.syn_reply(frame.stream_id))
            if frame.fin:
                stream.inbound.put_nowait(None)
            self.new_streams.put_nowait(stream)
        elif frame.kind == spdy.RST_STREAM:
            gone = self.streams.get(frame.stream_id)
            if gone is not None:
                gone.closed = True
                gone.inbound.put_nowait(None)
        elif frame.kind == spdy.PING:
            await self.link.write(self.writer.ping(frame.value))
        elif frame.kind == spdy.GOAWAY:
            raise ConnectionResetError("client sent GOAWAY")

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.link.write(self.writer.goaway(self.last_id))
        self.link.close()


class SpdyRemote:
    """exec/attach channels as SPDY streams named by ``streamType``."""

    def __init__(self, session: SpdySession, expected: Sequence[str], protocol: str) -> None:
        self.session = session
        self.expected = set(expected)
        self.protocol = protocol
        self.streams: dict[str, SpdyStream] = {}
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.resize: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Wait for the streams the request asked for; TimeoutError if they do not come."""
        self._tasks.append(asyncio.create_task(self.session.run()))
        async with asyncio.timeout(STREAM_WAIT):
            while not self.expected <= set(self.streams):
                stream = await self.session.new_streams.get()
                if stream is None:
                    self.gone.set()
                    raise ConnectionResetError("client left before opening its streams")
                self.streams[stream.header("streamType")] = stream
        if "stdin" in self.streams:
            self._tasks.append(asyncio.create_task(self._stdin(self.streams["stdin"])))
        else:
            self.stdin.put_nowait(None)
        if "resize" in self.streams:
            self._tasks.append(asyncio.create_task(self._resize(self.streams["resize"])))
        self._tasks.append(asyncio.create_task(self._watch_gone()))

    async def _watch_gone(self) -> None:
        while await self.session.new_streams.get() is not None:
            pass
        self.gone.set()

    async def _stdin(self, stream: SpdyStream) -> None:
        while (data := await stream.read()) is not None:
            self.stdin.put_nowait(data)
        self.stdin.put_nowait(None)

    async def _resize(self, stream: SpdyStream) -> None:
        decoder = json.JSONDecoder()
        buf = ""
        while (data := await stream.read()) is not None:
            buf += data.decode(errors="replace")
            while buf.strip():
                try:
                    _, end = decoder.raw_decode(buf.lstrip())
                except ValueError:
                    break
                doc, buf = buf.lstrip()[:end], buf.lstrip()[end:]
                size = channels.parse_resize(doc.encode())
                if size is not None:
                    self.resize.put_nowait(size)

    async def send(self, channel: int, data: bytes) -> None:
        name = {channels.STDOUT: "stdout", channels.STDERR: "stderr",
                channels.ERROR: "error"}[channel]
        stream = self.streams.get(name)
        if stream is not None:
            await stream.write(data)

    async def finish(self, status: bytes | None) -> None:
        if status is not None and "error" in self.streams:
            if self.protocol != channels.V4:  # older protocols carry only a failure's text
                doc = json.loads(status)
                status = doc.get("message", "").encode() if doc.get("status") != "Success" \
                    else None
            if status:
                with contextlib.suppress(ConnectionError):
                    await self.streams["error"].write(status)
        for stream in self.streams.values():
            await stream.close()
        await self.session.close()
        for t in self._tasks:
            t.cancel()
