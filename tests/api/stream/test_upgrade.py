"""The request head of a detached connection."""

from __future__ import annotations

import pytest

from turnout.api.stream import upgrade


def test_parse_head() -> None:
    head = upgrade.parse_head(
        b"GET /api/v1/namespaces/default/pods/x/exec?command=sh&command=-c&command=echo%20hi"
        b"&stdout=true HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
        b"X-Stream-Protocol-Version: a\r\nX-Stream-Protocol-Version: b\r\n\r\n")
    assert head.method == "GET"
    assert head.path == "/api/v1/namespaces/default/pods/x/exec"
    assert head.query["command"] == ["sh", "-c", "echo hi"]
    assert head.flag("stdout") and not head.flag("stdin")
    assert head.header("sec-websocket-protocol") == "v5.channel.k8s.io"
    assert head.headers["x-stream-protocol-version"] == ["a", "b"]


@pytest.mark.parametrize("raw", [b"garbage\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n"])
def test_bad_heads(raw: bytes) -> None:
    with pytest.raises(ValueError):
        upgrade.parse_head(raw)


def test_only_streaming_paths_are_taken() -> None:
    assert upgrade.STREAM_PATH.match("/api/v1/namespaces/d/pods/p/exec")
    assert upgrade.STREAM_PATH.match("/api/v1/namespaces/d/pods/p/portforward")
    assert not upgrade.STREAM_PATH.match("/api/v1/namespaces/d/pods/p/log")
    assert not upgrade.STREAM_PATH.match("/apis/x/v1/namespaces/d/pods/p/exec")
