"""Channel protocols: negotiation, binary and base64 framing, error-channel documents."""

from __future__ import annotations

import json

import pytest

from turnout.api.stream import channels, websocket


def test_the_first_protocol_the_client_offers_that_the_server_serves() -> None:
    offered = channels.offered(["v5.channel.k8s.io, v4.channel.k8s.io", "channel.k8s.io"])
    assert offered == ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"]
    assert channels.choose(offered, channels.EXEC_WS) == channels.V5
    # port-forward has no v5: the Python client offering v5,v4 gets v4
    assert channels.choose(offered, channels.PORT_FORWARD_WS) == channels.V4
    assert channels.choose(["SPDY/3.1+portforward.k8s.io"], channels.PORT_FORWARD_WS) == \
        channels.PORT_FORWARD_TUNNEL
    assert channels.choose(["v9.nothing"], channels.EXEC_WS) is None


def test_binary_codec() -> None:
    codec = channels.Codec(channels.V5)
    frame = codec.encode(channels.STDOUT, b"hi")
    msg = websocket.Parser().feed(_masked(frame))[0]
    assert msg == websocket.Message(websocket.BINARY, b"\x01hi")
    assert codec.decode(msg) == (1, b"hi")
    assert codec.decode(websocket.Message(websocket.BINARY, b"")) is None
    assert codec.closes and not channels.Codec(channels.V4).closes


def test_base64_codec() -> None:
    codec = channels.Codec(channels.V4_BASE64)
    msg = websocket.Parser().feed(_masked(codec.encode(channels.STDERR, b"\xff\x00")))[0]
    assert msg == websocket.Message(websocket.TEXT, b"2/wA=")
    assert codec.decode(msg) == (2, b"\xff\x00")
    with pytest.raises(ValueError, match="base64"):
        codec.decode(websocket.Message(websocket.TEXT, b"0!!"))
    with pytest.raises(ValueError, match="channel"):
        codec.decode(websocket.Message(websocket.TEXT, b"xAA=="))


def _masked(server_frame: bytes) -> bytes:
    """A server frame re-sent as a client would (mask bit set, zero mask)."""
    n = server_frame[1]
    head_len = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    return (server_frame[:1] + bytes([n | 0x80]) + server_frame[2:head_len] + b"\0\0\0\0"
            + server_frame[head_len:])


def test_status_documents_as_the_kubelet_writes_them() -> None:
    assert channels.status_success() == b'{"metadata":{},"status":"Success"}'
    doc = json.loads(channels.status_exit(3, ["sh", "-c", "exit 3"]))
    assert doc["reason"] == "NonZeroExitCode"
    assert doc["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert doc["message"].startswith("command terminated with non-zero exit code: ")
    assert "kind" not in doc
    assert json.loads(channels.status_error("boom"))["reason"] == "InternalError"


def test_resize_and_ports() -> None:
    assert channels.parse_resize(b'{"Width":80,"Height":24}') == (80, 24)
    assert channels.parse_resize(b'{"Width":"x"}') is None
    assert channels.parse_resize(b"nope") is None
    assert channels.port_prefix(8080) == b"\x90\x1f"
    assert channels.parse_ports(["80,8080", "9090"]) == [80, 8080, 9090]
    for bad in ("0", "65536", "x"):
        with pytest.raises(ValueError, match="invalid port"):
            channels.parse_ports([bad])
