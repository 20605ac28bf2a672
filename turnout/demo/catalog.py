"""Image catalog entries for the lab's images: which demo module runs each one.

The entries use the same mapping shape a user writes in ``catalog.yaml`` (``image`` glob, ``run``
template with ``{python}``, ``{tag}`` and ``{args}``, ``env``), so they double as examples. The
image tag is handed to the services as ``--image-tag={tag}``: the version a service reports comes
from the image, as with the real images, while the container's own command line (``ddtrace-run
flask run --port=5002 ...``) follows in ``{args}``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

from turnout.types import Obj

_ENV = {"PYTHONUNBUFFERED": "1"}
BIN = Path(__file__).resolve().parent / "bin"
"""Helper programs some images expect on PATH: podinfo's exec probes call `podcli`, Flagger's
load tester runs `hey` and `grpc_health_probe` and probes itself with `wget`."""


class Registry(Protocol):
    def register(self, entry: Obj) -> None: ...


def _module(name: str, *extra: str) -> list[str]:
    return ["{python}", "-m", f"turnout.demo.{name}", *extra, "{args}"]


def _path() -> str:
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"


def _tools() -> dict[str, str]:
    """PATH with BIN first, and turnout's interpreter for the helpers that need its libraries
    (`grpc_health_probe` speaks HTTP/2 with `h2`)."""
    return {"PATH": _path(), "TURNOUT_PYTHON": sys.executable}


def entries() -> list[Obj]:
    """The entries, most specific first (the catalog takes the first match)."""
    ads = _module("ads", "--image-tag={tag}")
    front = _module("storefront", "--image-tag={tag}")
    out: list[Obj] = [
        {"image": "arapulido/ads-service:1.0", "run": ads},
        {"image": "arapulido/ads-service:2.0", "run": ads},
        {"image": "arapulido/ads-service:*", "run": ads},
        {"image": "arapulido/frontend:1.0", "run": front},
        {"image": "arapulido/frontend:2.0", "run": front},
        {"image": "arapulido/frontend:*", "run": front},
        {"image": "ddtraining/discounts-fixed:*", "run": _module("discounts")},
        {"image": "ddtraining/traffic-replay:*", "run": _module("traffic")},
        {"image": "postgres:*", "run": _module("postgres"), "cmd": ["postgres"]},
        {"image": "*ingress-nginx/controller:*", "run": _module("ingress", "controller")},
        {"image": "*ingress-nginx/controller@*", "run": _module("ingress", "controller")},
        {"image": "*kube-webhook-certgen:*", "run": _module("ingress", "certgen")},
        {"image": "*kube-webhook-certgen@*", "run": _module("ingress", "certgen")},
        # for Argo Rollouts' and Flagger's own examples
        {"image": "nginx:*", "run": _module("nginx")},
        {"image": "nginx", "run": _module("nginx")},
        {"image": "argoproj/rollouts-demo:*",
         "run": _module("rollouts_demo", "--image-tag={tag}")},
        {"image": "*stefanprodan/podinfo:*", "run": _module("podinfo", "--image-tag={tag}"),
         "env": _tools()},
        # Flagger's load tester: its commands find `hey` (and `wget` for its probes) in BIN
        {"image": "ghcr.io/fluxcd/flagger-loadtester:*", "run": _module("loadtester"),
         "env": _tools()},
        {"image": "*weaveworks/flagger-loadtester:*", "run": _module("loadtester"),
         "env": _tools()},
        # Istio's samples/httpbin (go-httpbin) and older kennethreitz/httpbin manifests
        {"image": "*mccutchen/go-httpbin:*", "run": _module("httpbin")},
        {"image": "*kennethreitz/httpbin*", "run": _module("httpbin", "--port=80")},
        {"image": "prom/prometheus:*", "run": _module("prometheus")},
        {"image": "quay.io/prometheus/prometheus:*", "run": _module("prometheus")},
        {"image": "docker.io/prom/prometheus:*", "run": _module("prometheus")},
    ]
    for entry in out:
        entry["env"] = {**_ENV, **entry.get("env", {})}
    return out


def register(catalog: Registry) -> None:
    """Add every demo entry to a :class:`turnout.runtime.catalog.Catalog` (or anything alike)."""
    for entry in entries():
        catalog.register(entry)
