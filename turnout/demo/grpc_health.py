"""The gRPC health service (``grpc.health.v1.Health/Check``) over cleartext HTTP/2, both ends.

podinfo serves it on ``--grpc-port`` and Flagger's e2e scenario checks it from the load tester with
``grpc_health_probe -addr=podinfo-canary:9999``: the call crosses the mesh as gRPC does (HTTP/2
with prior knowledge, no TLS). The messages have one field each, so they are encoded here by hand
(protobuf wire format: field 1 of HealthCheckRequest is the ``service`` string, field 1 of
HealthCheckResponse the ``status`` enum); HTTP/2 framing is the ``h2`` package's. No grpcio.

Server: ``""`` (the whole server) and the configured service name are SERVING; any other name is
gRPC status NOT_FOUND ``unknown service``, as grpc's own health server answers; other methods are
UNIMPLEMENTED. Client: :func:`check`, which ``grpc_health_probe``'s stand-in runs.

Bounded: at most 64 connections at once, requests up to 4 KiB, idle connections closed after
10 minutes, every client wait has a deadline.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from turnout.demo import server

LOG_AS = "grpc-health"
CHECK_PATH = "/grpc.health.v1.Health/Check"
UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = {UNKNOWN: "UNKNOWN", SERVING: "SERVING", NOT_SERVING: "NOT_SERVING",
                SERVICE_UNKNOWN: "SERVICE_UNKNOWN"}
# gRPC status codes (grpc/doc/statuscodes.md), named as grpc-go prints them
CODE_NAMES = ("OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
              "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
              "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
              "Unauthenticated")
OK, DEADLINE_EXCEEDED, NOT_FOUND, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 0, 4, 5, 12, 13, 14
MAX_CONNECTIONS, MAX_MESSAGE, IDLE_SECONDS = 64, 4096, 600.0
COUNTS: Counter[str] = Counter()
"""Errors met, by kind (both ends), for tests and post-mortems."""
_log = logging.getLogger(__name__)  # the client's errors (its caller prints the outcome)


# --- protobuf, one field each -------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def _fields(buf: bytes) -> dict[int, int | bytes]:
    """Field number → last value (varints and length-delimited; fixed-width ones skipped)."""
    out: dict[int, int | bytes] = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            out[number], i = _read_varint(buf, i)
        elif wire == 2:
            size, i = _read_varint(buf, i)
            if i + size > len(buf):
                raise ValueError("truncated field")
            out[number], i = buf[i:i + size], i + size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def encode_request(service: str) -> bytes:
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_request(buf: bytes) -> str:
    value = _fields(buf).get(1, b"")
    return value.decode() if isinstance(value, bytes) else ""


def encode_response(status: int) -> bytes:
    return b"\x08" + _varint(status) if status else b""


def decode_response(buf: bytes) -> int:
    value = _fields(buf).get(1, UNKNOWN)
    return value if isinstance(value, int) else UNKNOWN


def frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def unframe(body: bytes) -> bytes:
    if len(body) < 5:
        raise ValueError("short gRPC message")
    if body[0] != 0:
        raise ValueError("compressed gRPC message (no encoding was offered)")
    size = int.from_bytes(body[1:5], "big")
    if len(body) < 5 + size:
        raise ValueError("truncated gRPC message")
    return body[5:5 + size]


# --- server -------------------------------------------------------------------------------

@dataclass
class HealthServer:
    """Statuses by service name; ``""`` is the server as a whole."""

    statuses: dict[str, int]
    _slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_CONNECTIONS))

    def answer(self, path: str, body: bytes) -> tuple[int, str, bytes | None]:
        """(gRPC code, message, response message or None) for one call."""
        if path != CHECK_PATH:
            return UNIMPLEMENTED, f"unknown method {path}", None
        try:
            service = decode_request(unframe(body))
        except (ValueError, UnicodeDecodeError) as e:
            COUNTS["bad request"] += 1
            server.log(LOG_AS, f"bad request: {e}")
            return INTERNAL, f"grpc: error unmarshalling request: {e}", None
        if service not in self.statuses:
            return NOT_FOUND, "unknown service", None
        return OK, "", encode_response(self.statuses[service])

    def listen(self, host: str, port: int) -> socket.socket:
        sock = socket.create_server((host, port))
        sock.settimeout(None)
        return sock

    def accept_loop(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError as e:  # the listening socket was closed: stop
                COUNTS["accept"] += 1
                server.log(LOG_AS, f"stopped accepting: {e}")
                return
            if not self._slots.acquire(blocking=False):
                COUNTS["too many connections"] += 1
                server.log(LOG_AS, f"refused a connection: {MAX_CONNECTIONS} already open")
                conn.close()
                continue
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, sock: socket.socket) -> None:
        try:
            self._serve(sock)
        except (OSError, h2.exceptions.ProtocolError) as e:
            COUNTS["connection"] += 1
            server.log(LOG_AS, f"connection closed on error: {e!r}")
        finally:
            sock.close()
            self._slots.release()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(IDLE_SECONDS)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        calls: dict[int, tuple[str, bytearray]] = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived) and ev.stream_id is not None:
                    headers = {str(k): str(v) for k, v in ev.headers or []}
                    calls[ev.stream_id] = (headers.get(":path", ""), bytearray())
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id is not None:
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    call = calls.get(ev.stream_id)
                    if call is not None and ev.data:
                        call[1].extend(ev.data)
                        if len(call[1]) > MAX_MESSAGE + 5:
                            calls.pop(ev.stream_id)
                            _trailers_only(conn, ev.stream_id, 8, "request too large")
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id is not None:
                    call = calls.pop(ev.stream_id, None)
                    if call is not None:
                        self._respond(conn, ev.stream_id, *call)
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id is not None:
                    calls.pop(ev.stream_id, None)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    def _respond(self, conn: h2.connection.H2Connection, stream: int, path: str,
                 body: bytearray) -> None:
        code, message, reply = self.answer(path, bytes(body))
        if reply is None:
            _trailers_only(conn, stream, code, message)
            return
        conn.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
        conn.send_data(stream, frame(reply))
        conn.send_headers(stream, [("grpc-status", "0")], end_stream=True)


def _trailers_only(conn: h2.connection.H2Connection, stream: int, code: int,
                   message: str) -> None:
    conn.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc"),
                               ("grpc-status", str(code)), ("grpc-message", message)],
                      end_stream=True)


def serve_in_thread(host: str, port: int, service_name: str) -> None:
    """Listen on ``host:port`` now (errors raise here) and answer from a daemon thread."""
    health = HealthServer({"": SERVING, service_name: SERVING})
    sock = health.listen(host, port)
    server.log(LOG_AS, f"grpc health listening on {host}:{port} (service {service_name!r})")
    threading.Thread(target=health.accept_loop, args=(sock,), daemon=True,
                     name=f"grpc-health-{port}").start()


# --- client -------------------------------------------------------------------------------

class ConnectError(Exception):
    """No HTTP/2 connection within the connect timeout; ``timeout`` says whether time ran out."""

    def __init__(self, message: str, timeout: bool) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class Result:
    code: int
    """gRPC status code of the call."""
    message: str
    status: int | None = None
    """The ServingStatus, when the call succeeded."""


def _http_to_grpc(status: int) -> int:
    """grpc's mapping of an HTTP status that came without grpc-status (http-grpc-status-mapping)."""
    return {400: INTERNAL, 401: 16, 403: 7, 404: UNIMPLEMENTED, 429: UNAVAILABLE,
            502: UNAVAILABLE, 503: UNAVAILABLE, 504: UNAVAILABLE}.get(status, 2)


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    """TCP connect, retried (as grpc's blocking dial does) until the deadline."""
    delay, last = 0.02, "deadline exceeded"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ConnectError(last, timeout=True)
        try:
            return socket.create_connection((host, port), timeout=left)
        except socket.gaierror as e:
            COUNTS["resolve"] += 1
            _log.debug("lookup %s: %s", host, e)
            raise ConnectError(f"dial tcp: lookup {host}: {e.strerror}", timeout=False) from e
        except OSError as e:
            COUNTS["connect"] += 1
            _log.debug("connect %s:%s: %s", host, port, e)
            last = f"dial tcp {host}:{port}: connect: {e.strerror or e}"
        time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)


def _read(sock: socket.socket, conn: h2.connection.H2Connection,
          deadline: float) -> list[h2.events.Event]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline exceeded")
    sock.settimeout(left)
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("connection closed by the server")
    events = conn.receive_data(data)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return events


def check(host: str, port: int, service: str = "", connect_timeout: float = 1.0,
          rpc_timeout: float = 1.0, user_agent: str = "grpc_health_probe") -> Result:
    """One ``Health/Check`` call; ConnectError when no HTTP/2 connection is made in time."""
    deadline = time.monotonic() + connect_timeout
    sock = _connect(host, port, deadline)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        try:
            sock.sendall(conn.data_to_send())
            # grpc's blocking dial is done when the server's SETTINGS arrive
            while not any(isinstance(e, h2.events.RemoteSettingsChanged)
                          for e in _read(sock, conn, deadline)):
                pass
        except (OSError, h2.exceptions.ProtocolError) as e:
            COUNTS["handshake"] += 1
            _log.debug("handshake with %s:%s: %r", host, port, e)
            raise ConnectError(f"HTTP/2 handshake: {e or 'deadline exceeded'}",
                               timeout=isinstance(e, TimeoutError)) from e
        return _call(sock, conn, f"{host}:{port}", service, rpc_timeout, user_agent)
    finally:
        sock.close()


def _call(sock: socket.socket, conn: h2.connection.H2Connection, authority: str, service: str,
          rpc_timeout: float, user_agent: str) -> Result:
    deadline = time.monotonic() + rpc_timeout
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [
        (":method", "POST"), (":scheme", "http"), (":path", CHECK_PATH),
        (":authority", authority), ("content-type", "application/grpc"), ("te", "trailers"),
        ("user-agent", user_agent), ("grpc-timeout", f"{max(1, int(rpc_timeout * 1000))}m")])
    conn.send_data(stream, frame(encode_request(service)), end_stream=True)
    headers: dict[str, str] = {}
    body = bytearray()
    try:
        sock.sendall(conn.data_to_send())
        done = False
        while not done:
            for ev in _read(sock, conn, deadline):
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    headers.update({str(k): str(v) for k, v in ev.headers or []})
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == stream:
                    body.extend(ev.data or b"")
                    conn.acknowledge_received_data(ev.flow_controlled_length, stream)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == stream:
                    done = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == stream:
                    return Result(UNAVAILABLE, f"stream reset (HTTP/2 error {ev.error_code})")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return Result(UNAVAILABLE, "connection closed by the server (GOAWAY)")
    except TimeoutError:
        COUNTS["rpc timeout"] += 1
        _log.debug("rpc to %s: deadline exceeded", authority)
        return Result(DEADLINE_EXCEEDED, "context deadline exceeded")
    except (OSError, h2.exceptions.ProtocolError) as e:
        COUNTS["rpc"] += 1
        _log.debug("rpc to %s: %r", authority, e)
        return Result(UNAVAILABLE, str(e))
    return _result(headers, bytes(body))


def _result(headers: dict[str, str], body: bytes) -> Result:
    if "grpc-status" not in headers:
        http = int(headers.get(":status", "0") or 0)
        return Result(_http_to_grpc(http), f"unexpected HTTP status code received from server: "
                                           f"{http}")
    code = int(headers["grpc-status"]) if headers["grpc-status"].isdigit() else 2
    if code != OK:
        return Result(code, headers.get("grpc-message", ""))
    try:
        return Result(OK, "", decode_response(unframe(body)))
    except ValueError as e:
        COUNTS["bad response"] += 1
        _log.debug("bad response: %s", e)
        return Result(INTERNAL, f"grpc: failed to unmarshal the received message: {e}")


def describe(code: int, message: str) -> str:
    """As grpc-go formats a status error."""
    name = CODE_NAMES[code] if 0 <= code < len(CODE_NAMES) else f"Code({code})"
    return f"rpc error: code = {name} desc = {message}"
