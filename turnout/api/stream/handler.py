"""The streaming endpoints: ``pods/<name>/exec``, ``/attach`` and ``/portforward``.

A connection arrives here detached from uvicorn (:mod:`turnout.api.stream.upgrade`) with its
request head unread. The request is checked as the API server and the kubelet check it (token,
pod, container, options), every refusal an HTTP answer with a ``Status`` body; then the
connection is upgraded to the WebSocket subprotocol or SPDY version both sides speak, and the
session runs.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Protocol

from turnout.api.stream import channels, sessions, websocket
from turnout.api.stream.transports import (
    RawLink,
    SpdyRemote,
    SpdySession,
    TunnelLink,
    WsConn,
    WsRemote,
)
from turnout.api.stream.upgrade import MAX_HEAD, Conn, Head, count, parse_head
from turnout.kube import errors
from turnout.runtime import exec as pod_exec
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.api.stream")

PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(exec|attach|portforward)/?$")
HEAD_TIMEOUT = 10.0
DIAL_TIMEOUT = 5.0


class PodHost(Protocol):
    def context(self, namespace: str, pod: str, container: str) -> pod_exec.Context | None: ...

    def running(self, namespace: str, pod: str, container: str) -> bool: ...

    def pod_ip(self, namespace: str, pod: str) -> str | None: ...

    def log_path(self, namespace: str, pod: str, container: str) -> Path: ...

    def stdin_writer(self, namespace: str, pod: str, container: str
                     ) -> Callable[[bytes | None], Awaitable[None]] | None: ...


@dataclass
class StreamContext:
    objects: Objects
    token: str
    host: PodHost


async def _answer(conn: Conn, code: int, body: bytes, content_type: str = "application/json"
                  ) -> None:
    phrase = HTTPStatus(code).phrase
    head = (f"HTTP/1.1 {code} {phrase}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        await conn.write(head + body)
    except ConnectionError as e:
        log.debug("client left before its answer: %s", e)
        count("answer_lost")


async def _refuse(conn: Conn, err: errors.ApiError) -> None:
    await _answer(conn, err.code, err.body())  # compact, as every other error body


def _authorized(ctx: StreamContext, head: Head) -> bool:
    header = head.header("authorization")
    if not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), ctx.token.encode())


def _container(pod: Obj, name: str, wanted: str) -> str:
    spec = pod.get("spec") or {}
    apps = [str(c["name"]) for c in spec.get("containers") or []]
    others = [c["name"] for key in ("initContainers", "ephemeralContainers")
              for c in spec.get(key) or []]
    if not wanted:
        if len(apps) == 1:
            return apps[0]
        raise errors.bad_request(f"a container name must be specified for pod {name}, choose one "
                                 f"of: [{' '.join(apps)}]")
    if wanted not in apps + others:
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def _query(head: Head, name: str) -> str:
    return str((head.query.get(name) or [""])[-1])


async def handle(ctx: StreamContext, conn: Conn) -> None:
    try:
        raw = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        head = parse_head(raw[:MAX_HEAD])
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            ValueError) as e:
        log.info("streaming request without a readable head: %s", e)
        count("bad_head")
        await _answer(conn, 400, b"bad request", "text/plain")
        return
    try:
        await _serve(ctx, conn, head)
    except errors.ApiError as e:
        count(f"refused_{e.code}")
        await _refuse(conn, e)


async def _serve(ctx: StreamContext, conn: Conn, head: Head) -> None:
    if not _authorized(ctx, head):
        raise errors.unauthorized()
    m = PATH.match(head.path)
    if m is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    namespace, name, sub = m.groups()
    if head.method not in ("GET", "POST"):
        raise errors.method_not_allowed(f"{head.method} is not supported")
    rt = ctx.objects.registry.lookup("", "v1", "pods")
    assert rt is not None
    pod = ctx.objects.get(rt, namespace, name)
    upgrade = head.header("upgrade").lower()
    if sub == "portforward":
        await _portforward(ctx, conn, head, pod, namespace, name, upgrade)
        return
    container = _container(pod, name, _query(head, "container"))
    stdin, stdout, stderr = head.flag("stdin"), head.flag("stdout"), head.flag("stderr")
    tty = head.flag("tty")
    command = head.query.get("command") or []
    if sub == "exec" and not command:
        raise errors.bad_request("you must specify at least one command for the container")
    if not (stdin or stdout or stderr):
        raise errors.bad_request("you must specify at least one of stdin, stdout, stderr")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot {sub} into a container in a completed pod; current "
                                 f"phase is {phase}")
    context = ctx.host.context(namespace, name, container)
    if context is None:
        raise errors.bad_request(f'container not found ("{container}")')
    if upgrade == "websocket":
        protocol = await _accept_ws(conn, head, channels.EXEC_WS)
        codec = channels.Codec(protocol or channels.V1)
        first = channels.STDOUT if stdout else channels.STDERR if stderr else channels.ERROR
        io: WsRemote | SpdyRemote = WsRemote(WsConn(conn), codec, first)
    else:
        protocol = await _accept_spdy(conn, head, channels.EXEC_SPDY)
        expected = ["error"] + [n for n, on in (("stdin", stdin), ("stdout", stdout),
                                                ("stderr", stderr and not tty),
                                                ("resize", tty and protocol != channels.V1))
                                if on]
        io = SpdyRemote(SpdySession(RawLink(conn)), expected, protocol)
    try:
        if sub == "exec":
            await sessions.run_exec(io, list(command), context, stdin=stdin, stdout=stdout,
                                    stderr=stderr, tty=tty)
        else:
            path = ctx.host.log_path(namespace, name, container)
            writer = ctx.host.stdin_writer(namespace, name, container) if stdin else None
            await sessions.run_attach(io, path,
                                      lambda: ctx.host.running(namespace, name, container),
                                      writer)
    except (TimeoutError, ConnectionError) as e:
        log.info("%s %s/%s ended: %s", sub, namespace, name, e or type(e).__name__)
        count(f"{sub}_ended_early")


async def _portforward(ctx: StreamContext, conn: Conn, head: Head, pod: Obj, namespace: str,
                       name: str, upgrade: str) -> None:
    ip = ctx.host.pod_ip(namespace, name) or (pod.get("status") or {}).get("podIP")
    if (pod.get("status") or {}).get("phase") != "Running" or not ip:
        raise errors.bad_request(f"unable to forward port because pod is not running. Current "
                                 f"status={(pod.get('status') or {}).get('phase', 'Pending')}")
    uid = str(pod["metadata"].get("uid", ""))

    async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(ip, port), DIAL_TIMEOUT)

    try:
        if upgrade == "websocket":
            ports: list[int] = []
            protocol = channels.choose(_offered_ws(head), channels.PORT_FORWARD_WS)
            if protocol != channels.PORT_FORWARD_TUNNEL:
                try:
                    ports = channels.parse_ports(head.query.get("ports") or [])
                except ValueError as e:
                    raise errors.bad_request(str(e)) from e
                if not ports:
                    raise errors.bad_request("query parameter \"port\" is required")
            protocol = await _accept_ws(conn, head, channels.PORT_FORWARD_WS)
            ws = WsConn(conn)
            if protocol == channels.PORT_FORWARD_TUNNEL:
                await sessions.run_portforward_spdy(SpdySession(TunnelLink(ws)), dial, name, uid)
            else:
                await sessions.run_portforward_ws(ws, channels.Codec(protocol or channels.V1),
                                                  ports, dial, name, uid)
        else:
            await _accept_spdy(conn, head, channels.PORT_FORWARD_SPDY)
            await sessions.run_portforward_spdy(SpdySession(RawLink(conn)), dial, name, uid)
    except ConnectionError as e:
        log.info("port-forward %s/%s ended: %s", namespace, name, e)
        count("portforward_ended_early")


def _offered_ws(head: Head) -> list[str]:
    return channels.offered(head.headers.get("sec-websocket-protocol") or [])


async def _accept_ws(conn: Conn, head: Head, served: tuple[str, ...]) -> str:
    """Answer 101 with the chosen subprotocol ("" when the client offered none)."""
    key = head.header("sec-websocket-key")
    if not key or head.method != "GET":
        raise errors.bad_request("a WebSocket upgrade needs GET and Sec-WebSocket-Key")
    offered = _offered_ws(head)
    protocol = channels.choose(offered, served) or ""
    if offered and not protocol:
        raise errors.bad_request(f"unable to upgrade: unable to negotiate protocol: client "
                                 f"supports {offered}, server supports {list(served)}")
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {websocket.accept_key(key)}"]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    await conn.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    return protocol


async def _accept_spdy(conn: Conn, head: Head, served: tuple[str, ...]) -> str:
    offered = channels.offered(head.headers.get("x-stream-protocol-version") or [])
    protocol = channels.choose(offered, served) or ""
    if offered and not protocol:
        raise errors.forbidden(f"unable to upgrade: unable to negotiate protocol: client "
                               f"supports {offered}, server supports {list(served)}")
    lines = ["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Upgrade: SPDY/3.1"]
    if protocol:
        lines.append(f"X-Stream-Protocol-Version: {protocol}")
    await conn.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    return protocol or channels.V1
