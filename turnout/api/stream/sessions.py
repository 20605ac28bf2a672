"""What happens on an open streaming connection: exec, attach and port-forward.

The transports (:mod:`turnout.api.stream.transports`) turn WebSocket messages or SPDY streams
into queues; this module connects those to an exec process, a running container's output, or a
TCP connection to the pod's address, and ends each session as the kubelet does (a ``Status`` on
the error channel, then the connection closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from turnout.api.stream import channels
from turnout.api.stream.transports import (
    RemoteIO,
    SpdySession,
    SpdyStream,
    WsConn,
    channel_messages,
)
from turnout.api.stream.upgrade import count
from turnout.runtime import exec as pod_exec

log = logging.getLogger("turnout.api.stream")

Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
LOG_POLL = 0.1


async def _pump_out(queue: asyncio.Queue[bytes | None], io: RemoteIO, channel: int) -> None:
    while (chunk := await queue.get()) is not None:
        await io.send(channel, chunk)


async def _pump_in(io: RemoteIO, proc: pod_exec.ExecProcess) -> None:
    while (data := await io.stdin.get()) is not None:
        await proc.write_stdin(data)
    proc.close_stdin()


async def _pump_resize(io: RemoteIO, proc: pod_exec.ExecProcess) -> None:
    while True:
        width, height = await io.resize.get()
        proc.resize(width, height)


async def run_exec(io: RemoteIO, argv: list[str], ctx: pod_exec.Context, *, stdin: bool,
                   stdout: bool, stderr: bool, tty: bool) -> None:
    await io.start()
    try:
        proc = await pod_exec.spawn(argv, ctx, stdin=stdin, stdout=stdout,
                                    stderr=stderr and not tty, tty=tty)
    except OSError as e:
        count("exec_start_failed")
        # what runc reports for a command that cannot be started
        await io.finish(channels.status_error(
            f'failed to exec in container: failed to start exec: OCI runtime exec failed: '
            f'exec failed: unable to start container process: exec: "{argv[0]}": '
            f"{e.strerror or e}: unknown"))
        return
    tasks = [asyncio.create_task(_pump_out(proc.stdout, io, channels.STDOUT)),
             asyncio.create_task(_pump_out(proc.stderr, io, channels.STDERR)),
             asyncio.create_task(_pump_resize(io, proc))]
    if stdin:
        tasks.append(asyncio.create_task(_pump_in(io, proc)))
    waiter = asyncio.create_task(proc.wait())
    gone = asyncio.create_task(io.gone.wait())
    try:
        await asyncio.wait([waiter, gone], return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():  # the client left: the exec goes with it
            await proc.close()
            return
        code = waiter.result()
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(asyncio.gather(*tasks[:2]), 5)
        status = channels.status_success() if code == 0 else channels.status_exit(code, argv)
        await io.finish(status)
    finally:
        for t in [*tasks, waiter, gone]:
            t.cancel()
        await proc.close()


async def _follow_records(path: Path, io: RemoteIO, running: Callable[[], bool]) -> None:
    """New records of a container log (CRI format) to stdout/stderr while it runs."""
    try:
        offset = path.stat().st_size
    except FileNotFoundError:
        offset = 0
    carry = b""
    while True:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size > offset:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset += len(chunk)
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            for line in lines:
                parts = line.split(b" ", 3)
                if len(parts) < 3:
                    continue
                text = (parts[3] if len(parts) == 4 else b"") + (b"\n" if parts[2] == b"F"
                                                                 else b"")
                channel = channels.STDERR if parts[1] == b"stderr" else channels.STDOUT
                await io.send(channel, text)
            continue
        if size < offset or not running():
            return
        await asyncio.sleep(LOG_POLL)


async def run_attach(io: RemoteIO, log_path: Path, running: Callable[[], bool],
                     write_stdin: Callable[[bytes | None], Awaitable[None]] | None) -> None:
    """Stream a running container's output (and feed its stdin) until it exits or the client
    leaves."""
    await io.start()

    async def feed() -> None:
        while (data := await io.stdin.get()) is not None:
            if write_stdin is not None:
                await write_stdin(data)
        if write_stdin is not None:
            await write_stdin(None)  # the client closed its stdin

    follower = asyncio.create_task(_follow_records(log_path, io, running))
    feeder = asyncio.create_task(feed())
    gone = asyncio.create_task(io.gone.wait())
    try:
        await asyncio.wait([follower, gone], return_when=asyncio.FIRST_COMPLETED)
        if follower.done() and not gone.done():
            await io.finish(channels.status_success())
    finally:
        for t in (follower, feeder, gone):
            t.cancel()
        if write_stdin is not None:
            await write_stdin(None)  # the attach ended: a stdinOnce container's stdin closes


def _forward_error(port: int, pod: str, uid: str, err: OSError | str) -> bytes:
    return f"error forwarding port {port} to pod {pod}, uid {uid}: {err}".encode()


async def _splice_socket(reader: asyncio.StreamReader, send: Callable[[bytes], Awaitable[None]]
                         ) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(64 << 10):
            await send(chunk)


async def run_portforward_ws(ws: WsConn, codec: channels.Codec, ports: list[int], dial: Dial,
                             pod: str, uid: str) -> None:
    """kubelet's WebSocket port-forward: data channel 2i, error channel 2i+1 for port i."""
    for i, port in enumerate(ports):
        await ws.send(codec.encode(2 * i, channels.port_prefix(port)))
        await ws.send(codec.encode(2 * i + 1, channels.port_prefix(port)))
    writers: dict[int, asyncio.StreamWriter | None] = {}
    pending: dict[int, list[bytes]] = {i: [] for i in range(len(ports))}
    tasks: list[asyncio.Task[None]] = []

    async def connect(i: int, port: int) -> None:
        try:
            reader, writer = await dial(port)
        except OSError as e:
            count("portforward_dial_failed")
            writers[i] = None
            await ws.send(codec.encode(2 * i + 1, _forward_error(port, pod, uid, e)))
            return
        writers[i] = writer
        for data in pending.pop(i, []):
            writer.write(data)

        async def send(chunk: bytes) -> None:
            await ws.send(codec.encode(2 * i, chunk))

        await _splice_socket(reader, send)

    for i, port in enumerate(ports):
        tasks.append(asyncio.create_task(connect(i, port)))

    async def all_ended() -> None:
        # as the kubelet: once every port's connection has ended (the pod closed it, or it
        # could not be made), the WebSocket closes, so the client reads end-of-file
        await asyncio.gather(*tasks, return_exceptions=True)
        count("portforward_ws_closed_by_pod")
        await ws.close()

    ender = asyncio.create_task(all_ended())
    try:
        async for channel, data in channel_messages(ws, codec, "port-forward"):
            i = channel // 2
            if channel % 2 or i >= len(ports) or not data:
                continue
            if i not in writers:
                pending.setdefault(i, []).append(data)
            elif (w := writers[i]) is not None:
                w.write(data)
                with contextlib.suppress(ConnectionError, OSError):
                    await w.drain()
    finally:
        ender.cancel()
        for t in tasks:
            t.cancel()
        for w in writers.values():
            if w is not None:
                w.close()
        await ws.close()


async def _forward_pair(data: SpdyStream, error: Callable[[], SpdyStream | None], port: int,
                        dial: Dial, pod: str, uid: str) -> None:
    try:
        reader, writer = await dial(port)
    except OSError as e:
        count("portforward_dial_failed")
        await asyncio.sleep(0)  # the error stream is opened first; let its frame arrive
        err = error()
        if err is not None:
            await err.write(_forward_error(port, pod, uid, e))
            await err.close()
        await data.close()
        return

    async def upload() -> None:
        while (chunk := await data.read()) is not None:
            writer.write(chunk)
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    up = asyncio.create_task(upload())
    try:
        await _splice_socket(reader, data.write)
        await data.close()
        await up
    finally:
        up.cancel()
        writer.close()
        err = error()
        if err is not None:
            await err.close()


def _lookup(errors: dict[str, SpdyStream], request: str) -> Callable[[], SpdyStream | None]:
    return lambda: errors.get(request)


async def run_portforward_spdy(session: SpdySession, dial: Dial, pod: str, uid: str) -> None:
    """client-go's SPDY port-forward: per connection an error and a data stream sharing a
    ``requestID``, each naming its ``port``."""
    reader = asyncio.create_task(session.run())
    errors: dict[str, SpdyStream] = {}
    pairs: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.new_streams.get()) is not None:
            kind = stream.header("streamType")
            request = stream.header("requestID")
            port_text = stream.header("port")
            if kind == "error":
                errors[request] = stream
                continue
            if kind != "data" or not port_text.isdigit() or not 0 < int(port_text) < 65536:
                await stream.write(f"invalid port-forward stream {kind!r} port {port_text!r}"
                                   .encode())
                await stream.close()
                continue
            task = asyncio.create_task(_forward_pair(
                stream, _lookup(errors, request), int(port_text), dial, pod, uid))
            pairs.add(task)
            task.add_done_callback(pairs.discard)
    finally:
        reader.cancel()
        for t in list(pairs):
            t.cancel()
        await session.close()
