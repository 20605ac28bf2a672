"""The lab's storefront (image ``arapulido/frontend:1.0|2.0``), the page users and traffic load.

Server-side, every page calls the advertisements service (``$ADS_ROUTE:$ADS_PORT/ads``) with the
header ``page-source: home`` or ``page-source: products`` -- the header the lab's VirtualService
routes on -- and the discounts service (``$DISCOUNTS_ROUTE:$DISCOUNTS_PORT/discount``). Calls go
through the HTTP proxy in ``$HTTP_PROXY`` (urllib's default proxy handling), which on turnout is the
pod's own mesh listener, and forward the request's tracing headers. When an upstream fails the
page still renders, with a degraded banner. Version 2.0 has a new logo and fails 2 % of pages
with a 500 (seeded, so runs repeat), which the canary analysis should notice.

Run: ``python -m turnout.demo.storefront [--image-tag=2.0] [the container's command line]``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.demo import data, pages, server
from turnout.types import JSON

SERVICE = "storefront"
DEFAULT_PORT = 3000
FORWARDED = ("x-request-id", "traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid",
             "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "b3",
             "x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority")
"""Request headers copied onto upstream calls so the mesh can join the spans."""


@dataclass(frozen=True)
class Config:
    version: str
    error_rate: float
    ads_url: str
    discounts_url: str
    timeout: float
    seed: int


def upstream_url(route: str, port: str, path: str) -> str:
    """``http://advertisements`` + ``5002`` + ``/ads`` → ``http://advertisements:5002/ads``."""
    base = route.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    host_part = base.split("://", 1)[1]
    if port and ":" not in host_part:
        base = f"{base}:{port}"
    return base + path


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number") from None


def config_from(argv: Sequence[str], env: Mapping[str, str]) -> Config:
    version = data.version_from_tag(server.option(argv, "image-tag")
                                    or env.get("TURNOUT_DEMO_VERSION"))
    rate = _number(env, "TURNOUT_DEMO_ERROR_RATE", data.storefront_error_rate(version))
    return Config(
        version=version,
        error_rate=min(1.0, max(0.0, rate)),
        ads_url=upstream_url(env.get("ADS_ROUTE") or "http://advertisements",
                             env.get("ADS_PORT") or "5002", "/ads"),
        discounts_url=upstream_url(env.get("DISCOUNTS_ROUTE") or "http://discounts",
                                   env.get("DISCOUNTS_PORT") or "5001", "/discount"),
        timeout=_number(env, "TURNOUT_DEMO_UPSTREAM_TIMEOUT", 5.0),
        seed=int(_number(env, "TURNOUT_DEMO_SEED", 0)),
    )


class Upstreams:
    """JSON calls to ads and discounts through the environment's HTTP proxy."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        # build_opener() installs ProxyHandler() with the proxies from HTTP_PROXY / NO_PROXY
        self.opener = urllib.request.build_opener()

    def get_json(self, url: str, headers: Mapping[str, str]) -> JSON:
        """The decoded JSON body; OSError/ValueError on any failure (HTTPError included)."""
        req = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
        with self.opener.open(req, timeout=self.cfg.timeout) as resp:
            return json.loads(resp.read().decode())


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in FORWARDED}


class Storefront:
    def __init__(self, cfg: Config, upstreams: Upstreams) -> None:
        self.cfg = cfg
        self.upstreams = upstreams
        self._rnd = random.Random(cfg.seed)
        self._lock = threading.Lock()

    def _random(self) -> float:
        with self._lock:
            return self._rnd.random()

    def _ad(self, page_source: str, trace: Mapping[str, str]
            ) -> tuple[Mapping[str, object] | None, str]:
        try:
            ads = self.upstreams.get_json(self.cfg.ads_url, {**trace, "page-source": page_source})
            if not isinstance(ads, list) or not ads or not all(isinstance(a, dict) for a in ads):
                raise ValueError(f"unexpected /ads answer: {str(ads)[:80]}")
            with self._lock:
                ad = pages.pick_ad(ads, self._rnd)
            return ad, f"ads={ad.get('version', '?')}"
        except (OSError, ValueError) as e:
            server.log(SERVICE, f"WARNING advertisements unavailable ({self.cfg.ads_url}): {e}")
            return None, "ads=unavailable"

    def _discounts(self, trace: Mapping[str, str]
                   ) -> tuple[list[Mapping[str, object]] | None, str]:
        try:
            found = self.upstreams.get_json(self.cfg.discounts_url, trace)
            if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
                raise ValueError(f"unexpected /discount answer: {str(found)[:80]}")
            return found, "discounts=ok"
        except (OSError, ValueError) as e:
            server.log(SERVICE,
                       f"WARNING discounts unavailable ({self.cfg.discounts_url}): {e}")
            return None, "discounts=unavailable"

    def handle(self, req: server.Request) -> server.Response:
        path = req.path.rstrip("/") or "/"
        if path == "/healthz":
            return server.text_response(f"storefront {self.cfg.version} ok\n")
        html_type = "text/html; charset=utf-8"
        product = None
        if path.startswith("/products/"):
            product = pages.find_product(path[len("/products/"):])
        if path != "/" and product is None:
            return server.text_response(pages.not_found_page(self.cfg.version, req.path), 404,
                                        html_type)
        if self.cfg.error_rate and self._random() < self.cfg.error_rate:
            return server.text_response("Internal Server Error\n", 500,
                                        note=f"version={self.cfg.version} injected-error")
        trace = forwarded(req.headers)
        source = "home" if product is None else "products"
        ad, ad_note = self._ad(source, trace)
        discounts, discounts_note = self._discounts(trace)
        if product is None:
            body = pages.home_page(self.cfg.version, ad, discounts)
        else:
            body = pages.product_page(self.cfg.version, product, ad, discounts)
        note = f"version={self.cfg.version} page-source={source} {ad_note} {discounts_note}"
        return server.text_response(body, 200, html_type, note=note)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    cfg = config_from(args, env)
    app = Storefront(cfg, Upstreams(cfg))
    server.log(SERVICE, f"version {cfg.version}, ads {cfg.ads_url}, discounts "
                        f"{cfg.discounts_url}, error rate {cfg.error_rate:.0%}")
    server.serve(SERVICE, app.handle, server.bind_host(env),
                 server.port_from(args, DEFAULT_PORT))


if __name__ == "__main__":
    main()
