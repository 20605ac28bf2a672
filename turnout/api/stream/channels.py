"""Kubernetes' channel protocols for exec, attach and port-forward (pure, no I/O).

Over WebSockets every message starts with a channel byte (stdin 0, stdout 1, stderr 2, error 3,
resize 4; v5 adds 255 = "close channel n"), or with an ASCII digit and a base64 payload in the
``base64`` variants. Over SPDY the same roles are separate streams named by a ``streamType``
header. The error channel carries one ``metav1.Status`` without kind/apiVersion, as the kubelet
writes it; this module builds those documents and picks the subprotocol a client gets.
"""

from __future__ import annotations

import base64
import binascii
import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from turnout.api.stream import websocket

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
PORT_FORWARD = "portforward.k8s.io"
SPDY_TUNNEL_PREFIX = "SPDY/3.1+"
PORT_FORWARD_TUNNEL = SPDY_TUNNEL_PREFIX + PORT_FORWARD

EXEC_WS = (V5, V4, V4_BASE64, V1, V1_BASE64)
"""Subprotocols served for exec/attach over WebSockets (v3/v2 are not offered by any client)."""
PORT_FORWARD_WS = (PORT_FORWARD_TUNNEL, V4, V4_BASE64, V1, V1_BASE64)
EXEC_SPDY = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
PORT_FORWARD_SPDY = (PORT_FORWARD,)

STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR,
                "resize": RESIZE}


def offered(header_values: Iterable[str]) -> list[str]:
    """Protocol names from (possibly several, comma-separated) request header values."""
    return [p.strip() for v in header_values for p in v.split(",") if p.strip()]


def choose(client: Sequence[str], server: Sequence[str]) -> str | None:
    """The first protocol of the client's list that the server serves (the kubelet's rule)."""
    return next((p for p in client if p in server), None)


@dataclass(frozen=True)
class Codec:
    """How one WebSocket subprotocol puts channels into messages."""

    protocol: str

    @property
    def base64(self) -> bool:
        return "base64" in self.protocol

    @property
    def closes(self) -> bool:
        """v5 signals a closed channel with ``[255, n]``."""
        return self.protocol == V5

    def encode(self, channel: int, data: bytes) -> bytes:
        """A whole WebSocket frame carrying ``data`` on ``channel``."""
        if self.base64:
            return websocket.encode(websocket.TEXT, str(channel).encode()
                                    + base64.b64encode(data))
        return websocket.encode(websocket.BINARY, bytes([channel]) + data)

    def decode(self, msg: websocket.Message) -> tuple[int, bytes] | None:
        """(channel, data) of a data message; None for an empty one. ValueError if malformed."""
        if not msg.payload:
            return None
        if self.base64:
            if msg.opcode != websocket.TEXT:
                raise ValueError("base64 channel protocols send text messages")
            head = msg.payload[:1]
            if not head.isdigit():
                raise ValueError(f"bad channel {head!r}")
            try:
                return int(head), base64.b64decode(msg.payload[1:], validate=True)
            except binascii.Error as e:
                raise ValueError(f"bad base64 payload: {e}") from e
        return msg.payload[0], msg.payload[1:]


def _compact(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def status_success() -> bytes:
    return _compact({"metadata": {}, "status": "Success"})


def status_exit(code: int, command: Sequence[str]) -> bytes:
    """The kubelet's document for a command that exited with ``code`` ≠ 0."""
    message = (f"command terminated with non-zero exit code: command '{shlex.join(command)}' "
               f"exited with {code}: ")
    return _compact({"metadata": {}, "status": "Failure", "message": message,
                     "reason": "NonZeroExitCode",
                     "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}})


def status_error(message: str) -> bytes:
    return _compact({"metadata": {}, "status": "Failure", "message": message,
                     "reason": "InternalError", "code": 500,
                     "details": {"causes": [{"message": message}]}})


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a resize message ``{"Width":w,"Height":h}``; None if malformed."""
    try:
        doc = json.loads(data)
        width, height = int(doc["Width"]), int(doc["Height"])
    except (ValueError, KeyError, TypeError):
        return None
    if not (0 <= width < 1 << 16 and 0 <= height < 1 << 16):
        return None
    return width, height


def port_prefix(port: int) -> bytes:
    """The first message on a port-forward channel: the port, 2 bytes little-endian."""
    return port.to_bytes(2, "little")


def parse_ports(values: Iterable[str]) -> list[int]:
    """``ports=8080,9090`` (or repeated); ValueError naming the bad value."""
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 65536:
                raise ValueError(f"invalid port {part!r}")
            ports.append(int(part))
    return ports


