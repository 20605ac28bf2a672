"""RFC 6455 WebSocket framing for the server side (pure, no I/O).

exec, attach and port-forward upgrade to WebSockets (kubectl ≥ 1.30, the Python client); uvicorn's
WebSocket support is an optional dependency and cannot hand a connection over to SPDY, so the
streaming endpoints speak the protocol themselves: a handshake answer, an incremental parser for
the client's (masked) frames that reassembles fragmented messages, and unmasked server frames.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA

MAX_MESSAGE = 32 << 20
"""Larger client messages are a protocol error (close code 1009)."""

NORMAL_CLOSURE = 1000
PROTOCOL_ERROR = 1002
TOO_BIG = 1009


class ProtocolError(Exception):
    def __init__(self, message: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Message:
    opcode: int
    """TEXT, BINARY, CLOSE, PING or PONG."""
    payload: bytes


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answer to a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key.strip() + GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def encode(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked (server) frame."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def close_frame(code: int = NORMAL_CLOSURE, reason: str = "") -> bytes:
    return encode(CLOSE, struct.pack(">H", code) + reason.encode()[:120])


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    reps = (len(data) + 3) // 4
    key = int.from_bytes((mask * reps)[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(len(data), "big")


class Parser:
    """Feed bytes from the client; get whole messages (control frames pass through at once)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._opcode: int | None = None
        self._size = 0

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while True:
            frame = self._frame()
            if frame is None:
                return out
            fin, opcode, payload = frame
            msg = self._assemble(fin, opcode, payload)
            if msg is not None:
                out.append(msg)

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70:
            raise ProtocolError("reserved bits set without a negotiated extension")
        if not b1 & 0x80:
            raise ProtocolError("client frames must be masked")
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from(">H", buf, 2)[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from(">Q", buf, 2)[0]
            pos = 10
        if n > self.max_message:
            raise ProtocolError(f"frame of {n} bytes is larger than {self.max_message}", TOO_BIG)
        if len(buf) < pos + 4 + n:
            return None
        mask = bytes(buf[pos:pos + 4])
        payload = _unmask(bytes(buf[pos + 4:pos + 4 + n]), mask)
        del buf[:pos + 4 + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def _assemble(self, fin: bool, opcode: int, payload: bytes) -> Message | None:
        if opcode >= 0x8:
            if opcode not in (CLOSE, PING, PONG):
                raise ProtocolError(f"unknown control opcode {opcode:#x}")
            if not fin or len(payload) > 125:
                raise ProtocolError("control frames must be final and at most 125 bytes")
            return Message(opcode, payload)
        if opcode == CONTINUATION:
            if self._opcode is None:
                raise ProtocolError("continuation frame without a message to continue")
        elif opcode in (TEXT, BINARY):
            if self._opcode is not None:
                raise ProtocolError("new data frame inside a fragmented message")
            self._opcode = opcode
        else:
            raise ProtocolError(f"unknown data opcode {opcode:#x}")
        self._size += len(payload)
        if self._size > self.max_message:
            raise ProtocolError(f"message larger than {self.max_message} bytes", TOO_BIG)
        self._parts.append(payload)
        if not fin:
            return None
        msg = Message(self._opcode, b"".join(self._parts))
        self._opcode, self._parts, self._size = None, [], 0
        return msg


def close_code(payload: bytes) -> int:
    """The status code of a CLOSE payload (1005 "no status" when it has none)."""
    return int(struct.unpack(">H", payload[:2])[0]) if len(payload) >= 2 else 1005
