"""Argo's `prometheus` and `web` providers: a query that cannot be made is an Error measurement
whose message names the address it went to."""

from __future__ import annotations

import socket

from turnout.rollout import providers
from turnout.rollout.providers import Prometheus, Web


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more: connection refused


def test_prometheus_error_names_the_address() -> None:
    address = f"http://127.0.0.1:{closed_port()}"
    before = providers.FAILURES["prometheus"]
    phase, _, message = Prometheus().measure(
        {"name": "sr", "provider": {"prometheus": {"address": address, "query": "up"}}}, {}, 0)
    assert phase == "Error"
    assert message.startswith(f"prometheus query to {address} failed: ")
    assert "refused" in message.lower() and "<urlopen" not in message
    assert providers.FAILURES["prometheus"] == before + 1


def test_web_error_names_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/verdict"
    phase, _, message = Web().measure({"name": "v", "provider": {"web": {"url": url}}}, {}, 0)
    assert phase == "Error"
    assert message.startswith(f"web provider request to {url} failed: ")
