"""The nginx image stand-in answers like nginx's welcome page on its port."""

from __future__ import annotations

from turnout.demo import nginx, server


def test_welcome_page_and_health() -> None:
    page = nginx.handle(server.Request("GET", "/", {}, {}, "127.0.0.1"))
    assert "Welcome to nginx!" in page.body.decode()
    assert nginx.handle(server.Request("GET", "/healthz", {}, {}, "127.0.0.1")).body == b"ok\n"
