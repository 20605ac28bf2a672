"""SPDY/3.1 framing as client-go's SPDY streams use it (pure, no I/O).

kubectl falls back to SPDY when a WebSocket upgrade fails, and ``kubectl port-forward`` ≥ 1.31
tunnels SPDY inside a WebSocket (``SPDY/3.1+portforward.k8s.io``), so both need this framer:
control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
WINDOW_UPDATE) and data frames, with header blocks compressed by one zlib stream per direction
over the fixed dictionary of the SPDY/3 specification (draft 3, section 2.6.10.1). Flow control is
not enforced: client-go's SPDY library neither sends nor honours WINDOW_UPDATE.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

RST_PROTOCOL_ERROR = 1
RST_INVALID_STREAM = 2
RST_REFUSED_STREAM = 3
RST_CANCEL = 5
RST_INTERNAL_ERROR = 6

MAX_FRAME = (1 << 24) - 1
MAX_HEADER_BLOCK = 1 << 20

_WORDS = ("options head post put delete trace accept accept-charset accept-encoding "
          "accept-language accept-ranges age allow authorization cache-control connection "
          "content-base content-encoding content-language content-length content-location "
          "content-md5 content-range content-type date etag expect expires from host if-match "
          "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
          "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
          "server te trailer transfer-encoding upgrade user-agent vary via warning "
          "www-authenticate method get status |200 OK| version HTTP/1.1 url public set-cookie "
          "keep-alive origin")
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
         "504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad "
         "Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not "
         "Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec "
         "00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,"
         "image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,public"
         "privatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(len(w).to_bytes(4, "big") + w.encode()
                      for w in (m.strip("|") for m in re.findall(r"\|[^|]*\||\S+", _WORDS))
                      ) + _TAIL.encode()
"""The header-compression dictionary of SPDY/3 (1423 bytes: length-prefixed words, then text)."""

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class Control:
    kind: int
    flags: int
    stream_id: int = 0
    headers: Headers = field(default_factory=dict)
    value: int = 0
    """RST_STREAM/GOAWAY status, PING id, WINDOW_UPDATE delta."""

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower()) or [""]
        return values[0]


Frame = Data | Control


def encode_headers(headers: Headers) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        key = name.lower().encode()
        value = "\x00".join(values).encode()
        out += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
    return b"".join(out)


def decode_headers(block: bytes) -> Headers:
    try:
        (count,), pos = struct.unpack_from(">I", block), 4
        out: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (m,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + m].decode()
            pos += 4 + m
            if pos > len(block):
                raise ProtocolError("header block shorter than its lengths")
            out.setdefault(name.lower(), []).extend(value.split("\x00"))
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed header block: {e}") from e
    return out


class Parser:
    """Feed bytes; get frames. Holds the session's header decompressor."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while len(self._buf) >= 8:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head = bytes(self._buf[:8])
            body = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            out.append(self._frame(head, body))
        return out

    def _block(self, data: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(data, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"header block does not decompress: {e}") from e
        if self._inflate.unconsumed_tail:
            raise ProtocolError("header block too large")
        return decode_headers(raw)

    def _frame(self, head: bytes, body: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            return Data(int.from_bytes(head[:4], "big") & 0x7FFFFFFF, body, bool(flags & FLAG_FIN))
        version = int.from_bytes(head[:2], "big") & 0x7FFF
        kind = int.from_bytes(head[2:4], "big")
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version} is not supported")
        try:
            if kind == SYN_STREAM:
                sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
                return Control(kind, flags, sid, self._block(body[10:]))
            if kind in (SYN_REPLY, HEADERS):
                sid = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
                return Control(kind, flags, sid, self._block(body[4:]))
            if kind in (RST_STREAM, WINDOW_UPDATE):
                sid, value = struct.unpack_from(">II", body)
                return Control(kind, flags, sid & 0x7FFFFFFF, value=value & 0x7FFFFFFF)
            if kind == PING:
                return Control(kind, flags, value=struct.unpack_from(">I", body)[0])
            if kind == GOAWAY:
                sid, value = struct.unpack_from(">II", body)
                return Control(kind, flags, sid & 0x7FFFFFFF, value=value)
        except struct.error as e:
            raise ProtocolError(f"control frame {kind} too short") from e
        return Control(kind, flags)  # SETTINGS and unknown types: nothing to act on


class Writer:
    """Frames to send; holds the session's header compressor."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(9, zdict=DICTIONARY)

    def _control(self, kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body

    def _compress(self, headers: Headers) -> bytes:
        raw = encode_headers(headers)
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: Headers | None = None, fin: bool = False
                  ) -> bytes:
        body = struct.pack(">I", stream_id) + self._compress(headers or {})
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    def syn_stream(self, stream_id: int, headers: Headers, fin: bool = False) -> bytes:
        body = struct.pack(">IIH", stream_id, 0, 0) + self._compress(headers)
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, body)

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        """One or more data frames (each at most MAX_FRAME bytes)."""
        out = []
        chunks = [data[i:i + MAX_FRAME] for i in range(0, len(data), MAX_FRAME)] or [b""]
        for i, chunk in enumerate(chunks):
            last = fin and i == len(chunks) - 1
            out.append(struct.pack(">II", stream_id, ((FLAG_FIN if last else 0) << 24)
                                   | len(chunk)) + chunk)
        return b"".join(out)
