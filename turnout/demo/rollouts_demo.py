"""Argo Rollouts' demo application (image ``argoproj/rollouts-demo:<color>``), for its examples.

Argo's own examples roll this image out colour by colour; the image tag is the colour. As with
the real one, a ``bad-<color>`` tag answers half of the requests with 500 and ``slow-<color>``
adds two seconds. Listens on ``$POD_IP:8080``. ``GET /color`` returns the colour as JSON.

Run: ``python -m turnout.demo.rollouts_demo --image-tag=<tag> [the container's command line]``.
"""

from __future__ import annotations

import html
import os
import random
import sys
import time
from collections.abc import Sequence

from turnout.demo import server

SERVICE = "rollouts-demo"
DEFAULT_PORT = 8080


def make_handler(tag: str, rng: random.Random) -> server.Handler:
    color = tag.split("-", 1)[1] if tag.startswith(("bad-", "slow-")) else tag

    def handle(req: server.Request) -> server.Response:
        if tag.startswith("slow-"):
            time.sleep(2.0)
        if tag.startswith("bad-") and rng.random() < 0.5:
            return server.json_response(color, status=500, note="bad")
        if req.path.rstrip("/") == "/color":
            return server.json_response(color)
        page = (f"<!doctype html><title>rollouts-demo</title><body style=\"background:"
                f"{html.escape(color)}\"><h1 data-color=\"{html.escape(color)}\">"
                f"{html.escape(color)}</h1></body>")
        return server.text_response(page, content_type="text/html; charset=utf-8")

    return handle


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    tag = server.option(args, "image-tag") or "blue"
    rng = random.Random(os.environ.get("HOSTNAME", "rollouts-demo"))
    server.serve(SERVICE, make_handler(tag, rng), server.bind_host(),
                 server.port_from(args, DEFAULT_PORT))


if __name__ == "__main__":
    main()
