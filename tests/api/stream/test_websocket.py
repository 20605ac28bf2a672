"""WebSocket framing: handshake key, masked client frames, fragments, control frames, limits."""

from __future__ import annotations

import os
import struct

import pytest

from turnout.api.stream import websocket


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def test_accept_key_of_rfc6455_example() -> None:
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_round_trip_every_length_encoding(size: int) -> None:
    payload = os.urandom(size)
    parser = websocket.Parser()
    assert parser.feed(client_frame(websocket.BINARY, payload)) == [
        websocket.Message(websocket.BINARY, payload)]
    server = websocket.encode(websocket.BINARY, payload)
    assert server[0] == 0x82 and not server[1] & 0x80  # final, binary, unmasked
    assert server.endswith(payload)


def test_bytes_arrive_one_at_a_time() -> None:
    parser = websocket.Parser()
    data = client_frame(websocket.TEXT, b"hello") + client_frame(websocket.PING, b"p")
    got: list[websocket.Message] = []
    for i in range(len(data)):
        got += parser.feed(data[i:i + 1])
    assert got == [websocket.Message(websocket.TEXT, b"hello"),
                   websocket.Message(websocket.PING, b"p")]


def test_fragments_are_joined_and_control_frames_pass_between_them() -> None:
    parser = websocket.Parser()
    data = (client_frame(websocket.BINARY, b"ab", fin=False)
            + client_frame(websocket.PING, b"")
            + client_frame(websocket.CONTINUATION, b"cd"))
    assert parser.feed(data) == [websocket.Message(websocket.PING, b""),
                                 websocket.Message(websocket.BINARY, b"abcd")]


@pytest.mark.parametrize("frame, message", [
    (bytes([0x82, 0x01, 0x00]), "masked"),
    (bytes([0xC2, 0x80]) + b"\0\0\0\0", "reserved"),
    (client_frame(websocket.CONTINUATION, b"x"), "continuation"),
    (client_frame(0x3, b"x"), "opcode"),
    (client_frame(websocket.PING, b"x", fin=False), "control"),
])
def test_protocol_errors(frame: bytes, message: str) -> None:
    with pytest.raises(websocket.ProtocolError, match=message):
        websocket.Parser().feed(frame)


def test_too_large_message_is_refused_with_1009() -> None:
    parser = websocket.Parser(max_message=10)
    with pytest.raises(websocket.ProtocolError) as err:
        parser.feed(client_frame(websocket.BINARY, b"x" * 11))
    assert err.value.code == websocket.TOO_BIG


def test_close_frame_carries_its_code() -> None:
    frame = websocket.close_frame(1000, "bye")
    assert frame[0] == 0x88
    assert websocket.close_code(frame[2:]) == 1000
    assert websocket.close_code(b"") == 1005
