"""The lab's traffic generator (image ``ddtraining/traffic-replay``) as a small request loop.

The real image replays recorded browsing against ``$FRONTEND_HOST:$FRONTEND_PORT``; this one
browses the storefront the same way -- the home page and product pages, so both ``page-source``
routes get traffic -- at ``$TURNOUT_DEMO_RPS`` requests per second (default 2), through the pod's
HTTP proxy like any other pod. ``$TURNOUT_DEMO_REQUESTS`` bounds the run (default: forever).

Run: ``python -m turnout.demo.traffic [ignored args]``.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import FrameType

from turnout.demo import pages, server

SERVICE = "traffic-replay"


def paths(rnd: random.Random) -> str:
    """Two in five visits land on the home page, the rest on a product page."""
    if rnd.random() < 0.4:
        return "/"
    return "/products/" + str(rnd.choice(pages.PRODUCTS)["slug"])


def base_url(env: Mapping[str, str]) -> str:
    host = env.get("FRONTEND_HOST") or "frontend"
    port = env.get("FRONTEND_PORT") or "80"
    return f"http://{host}" if port == "80" else f"http://{host}:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    rps = float(env.get("TURNOUT_DEMO_RPS") or 2.0)
    limit = int(env.get("TURNOUT_DEMO_REQUESTS") or 0)
    rnd = random.Random(int(env.get("TURNOUT_DEMO_SEED") or 0))
    opener = urllib.request.build_opener()  # honours HTTP_PROXY like the other demo pods
    base = base_url(env)
    running = True

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.log(SERVICE, f"browsing {base} at {rps:g} requests/s")
    sent = 0
    next_at = time.monotonic()
    while running and (not limit or sent < limit):
        path = paths(rnd)
        started = time.perf_counter()
        try:
            with opener.open(base + path, timeout=10) as resp:
                resp.read()
                status = str(resp.status)
        except urllib.error.HTTPError as e:
            status = str(e.code)
        except (OSError, ValueError) as e:
            status = f"error ({e})"
        sent += 1
        server.log(SERVICE, f"GET {base}{path} {status} "
                            f"{(time.perf_counter() - started) * 1000:.1f}ms")
        next_at += 1.0 / rps if rps > 0 else 1.0
        time.sleep(max(0.0, next_at - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
