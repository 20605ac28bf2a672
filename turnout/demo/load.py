"""Storefront traffic: home and product pages, bounded in count and time, with a tally.

Used by `turnout load` and by the demo scenario. Pages are parsed for the versions that served
them (the storefront's `data-storefront-version` and the ad banner's `data-version`), so a split
can be measured from the outside, the way a user refreshing the page sees it.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

AD_VERSION = re.compile(r'class="ad-banner[^"]*" data-version="([^"]+)"')
STOREFRONT_VERSION = re.compile(r'data-storefront-version="([^"]+)"')
PRODUCT_LINK = re.compile(r'href="(/products/[^"]+)"')

# no proxy for the load generator itself: it stands outside the cluster like a browser
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Tally:
    requests: int = 0
    errors: int = 0
    ads: Counter[str] = field(default_factory=Counter)
    storefront: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int, page: str, ms: float) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1
            self.latencies_ms.append(ms)
            if status >= 500 or status == 0:
                self.errors += 1
            if m := AD_VERSION.search(page):
                self.ads[m.group(1)] += 1
            if m := STOREFRONT_VERSION.search(page):
                self.storefront[m.group(1)] += 1


def fetch(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None
          ) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            body = r.read().decode(errors="replace")
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read().decode(errors="replace"), e.code
    except OSError:
        body, status = "", 0
    return status, body, (time.perf_counter() - t0) * 1000


def product_paths(base: str) -> list[str]:
    status, page, _ = fetch(base + "/")
    return sorted(set(PRODUCT_LINK.findall(page))) if status == 200 else []


def run(base: str, *, requests: int, concurrency: int = 4, products: float = 0.0,
        rps: float | None = None, max_seconds: float = 300.0,
        on_result: Callable[[int], None] | None = None,
        headers: dict[str, str] | None = None) -> Tally:
    """Send `requests` page loads (a `products` share of them to product pages)."""
    base = base.rstrip("/")
    paths = product_paths(base) if products > 0 else []
    tally = Tally()
    deadline = time.monotonic() + max_seconds
    start = time.monotonic()

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            return
        if rps:
            delay = start + i / rps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        # spread product pages evenly: request i is one when floor((i+1)p) > floor(ip)
        use_product = bool(paths) and int((i + 1) * products) > int(i * products)
        path = paths[i % len(paths)] if use_product else "/"
        status, page, ms = fetch(base + path, headers=headers)
        tally.add(status, page, ms)
        if on_result is not None:
            on_result(status)

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        list(pool.map(one, range(requests)))
    return tally
