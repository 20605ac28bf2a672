"""SPDY/3.1 framing: the spec's dictionary, header blocks over one zlib stream, every frame."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from turnout.api.stream import spdy


def test_dictionary_is_the_specs() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == \
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


class Client:
    """What a client-go SPDY client sends: its own compressor over the same dictionary."""

    def __init__(self) -> None:
        self.deflate = zlib.compressobj(9, zdict=spdy.DICTIONARY)

    def syn_stream(self, sid: int, headers: spdy.Headers, fin: bool = False) -> bytes:
        block = self.deflate.compress(spdy.encode_headers(headers)) + \
            self.deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIH", sid, 0, 0) + block
        return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM,
                           ((1 if fin else 0) << 24) | len(body)) + body


def test_streams_data_and_headers_across_one_zlib_stream() -> None:
    client, parser = Client(), spdy.Parser()
    data = (client.syn_stream(1, {"streamtype": ["error"], "port": ["80"]})
            + client.syn_stream(3, {"streamtype": ["data"], "port": ["80"]})
            + spdy.Writer.data(3, b"GET / HTTP/1.1\r\n\r\n")
            + spdy.Writer.data(3, b"", fin=True))
    frames: list[spdy.Frame] = []
    for i in range(0, len(data), 7):  # arbitrary splits
        frames += parser.feed(data[i:i + 7])
    first, second, payload, end = frames
    assert isinstance(first, spdy.Control) and first.kind == spdy.SYN_STREAM
    assert first.header("streamType") == "error" and first.stream_id == 1
    assert isinstance(second, spdy.Control) and second.header("port") == "80"
    assert payload == spdy.Data(3, b"GET / HTTP/1.1\r\n\r\n")
    assert end == spdy.Data(3, b"", fin=True)


def test_server_frames_parse_back() -> None:
    writer, parser = spdy.Writer(), spdy.Parser()
    data = (writer.syn_reply(1) + writer.syn_stream(2, {"a": ["b", "c"]}, fin=True)
            + writer.ping(7) + writer.rst_stream(5, spdy.RST_CANCEL) + writer.goaway(3))
    reply, syn, ping, rst, goaway = parser.feed(data)
    assert isinstance(reply, spdy.Control) and reply.kind == spdy.SYN_REPLY
    assert reply.stream_id == 1 and reply.headers == {}
    assert isinstance(syn, spdy.Control) and syn.fin and syn.headers == {"a": ["b", "c"]}
    assert isinstance(ping, spdy.Control) and ping.value == 7
    assert isinstance(rst, spdy.Control) and (rst.stream_id, rst.value) == (5, spdy.RST_CANCEL)
    assert isinstance(goaway, spdy.Control) and goaway.stream_id == 3


def test_ignored_frames_and_errors() -> None:
    settings = struct.pack(">HHI", 0x8003, spdy.SETTINGS, 4) + b"\0\0\0\0"
    frame = spdy.Parser().feed(settings)[0]
    assert isinstance(frame, spdy.Control) and frame.kind == spdy.SETTINGS
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.Parser().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\0\0\0\1")
    with pytest.raises(spdy.ProtocolError, match="decompress"):
        spdy.Parser().feed(struct.pack(">HHI", 0x8003, spdy.SYN_REPLY, 8) + b"\0\0\0\1junk")
    with pytest.raises(spdy.ProtocolError, match="too short"):
        spdy.Parser().feed(struct.pack(">HHI", 0x8003, spdy.PING, 2) + b"\0\0")
    with pytest.raises(spdy.ProtocolError, match="malformed"):
        spdy.decode_headers(b"\0\0\0\1\0\0\0\xff")
