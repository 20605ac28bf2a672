"""The lab's advertisements service (image ``arapulido/ads-service:1.0|2.0``).

``GET /ads`` returns the ad banners as JSON, each with a text that names the version ("Version
2.0: ..."), so a page shows which version answered; ``GET /banners/<file>`` returns a banner
image. Version 2.0 carries the regression the lab's canary analysis must catch: every request is
200 ms slower. The version comes from the image tag (``--image-tag``, passed by the catalog entry),
not from ``DD_VERSION``, as it would in the real image. The ``page-source`` header the storefront
sends is only logged; routing on it is the mesh's job.

Run: ``python -m turnout.demo.ads [--image-tag=2.0] [the container's command line]``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from turnout.demo import data, db, server

SERVICE = "advertisements"
DEFAULT_PORT = 5002
COLUMNS = ("id", "name", "url", "weight")


@dataclass(frozen=True)
class Config:
    version: str
    latency: float
    """Seconds slept in every /ads and /banners request."""


def config_from(argv: Sequence[str], env: Mapping[str, str]) -> Config:
    """Version from ``--image-tag`` (else ``TURNOUT_DEMO_VERSION``); latency from the version
    unless ``TURNOUT_DEMO_LATENCY_MS`` overrides it."""
    tag = server.option(argv, "image-tag") or env.get("TURNOUT_DEMO_VERSION")
    version = data.version_from_tag(tag)
    latency = data.ads_latency(version)
    override = env.get("TURNOUT_DEMO_LATENCY_MS")
    if override:
        try:
            latency = max(0.0, float(override) / 1000)
        except ValueError:
            raise SystemExit(f"TURNOUT_DEMO_LATENCY_MS={override!r} is not a number") from None
    return Config(version, latency)


def make_handler(cfg: Config, table: db.CachedTable) -> server.Handler:
    def handle(req: server.Request) -> server.Response:
        path = req.path.rstrip("/") or "/"
        if path in ("/", "/healthz"):
            return server.text_response(f"advertisements {cfg.version} ok\n")
        source = req.headers.get("page-source", "-")
        if path == "/ads":
            time.sleep(cfg.latency)
            rows, origin = table.rows()
            response = server.json_response(
                data.ad_payload(rows, cfg.version),
                note=f"page-source={source} version={cfg.version} data={origin}")
            response.headers["X-Data-Source"] = origin
            return response
        if path.startswith("/banners/"):
            time.sleep(cfg.latency)
            name = path[len("/banners/"):]
            rows, _ = table.rows()
            found = [r for r in rows if str(r.get("url")) == name]
            if not found:
                return server.text_response(f"no banner {name!r}\n", 404,
                                            note=f"page-source={source}")
            text = data.ad_payload(found, cfg.version)[0]["text"]
            return server.text_response(data.banner_svg(str(text), cfg.version),
                                        content_type="image/svg+xml",
                                        note=f"page-source={source} version={cfg.version}")
        return server.text_response("not found\n", 404)

    return handle


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    cfg = config_from(args, env)
    table = db.table_for(SERVICE, data.ADS_QUERY, COLUMNS, data.ADS, server.log, env)
    port = server.port_from(args, DEFAULT_PORT)
    server.log(SERVICE, f"version {cfg.version}, added latency {cfg.latency * 1000:.0f} ms")
    server.serve(SERVICE, make_handler(cfg, table), server.bind_host(env), port,
                 on_start=table.start)


if __name__ == "__main__":
    main()
