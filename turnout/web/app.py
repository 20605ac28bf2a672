"""The dashboard's HTTP app: the page, its static files, and the JSON it polls.

Why this exists: a thin shell over the object store, the telemetry JSON API and the rollout
command annotation. Security for a page served on 127.0.0.1 to a browser that also visits other
sites: every request whose Host is not one of ours gets 403 (DNS rebinding); reads need no token;
every mutating request needs `Authorization: Bearer <cluster token>` — a header a cross-site form
cannot send (CSRF) — and no response ever carries CORS headers.

Handlers are `async` on purpose: the object store is used from the cluster's event loop only;
DuckDB telemetry queries run in a worker thread so they never block that loop.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from turnout.kube import errors
from turnout.store.objects import Objects
from turnout.telemetry.api import json_api, parse_duration
from turnout.telemetry.service import Telemetry
from turnout.types import Obj
from turnout.web import queries, rollouts, traffic

STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
]


@dataclass
class WebContext:
    objects: Objects
    telemetry: Telemetry | None
    token: str
    """The cluster's bearer token."""
    allowed_hosts: frozenset[str]
    """Host header values we answer, e.g. {"127.0.0.1:15000", "localhost:15000"}."""


class HostCheck:
    """403 for any Host not in `allowed` (DNS rebinding), security headers on every answer."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1").lower() for k, v in scope.get("headers") or []
                     if k == b"host"), "")
        if scope["type"] == "websocket" or host not in self.allowed:
            resp = JSONResponse(_status(403, "Forbidden", f"host {host!r} is not allowed"),
                                status_code=403)
            await resp(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not k.lower().startswith(b"access-control-")]
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)
        return wrapped


def _status(code: int, reason: str, message: str) -> Obj:
    return errors.ApiError(code, reason, message).status()


def _error(e: errors.ApiError) -> JSONResponse:
    return JSONResponse(e.status(), status_code=e.code)


def _asset(name: str) -> bytes:
    return resources.files("turnout.web").joinpath("static", name).read_bytes()


def authorized(request: Request, token: str) -> errors.ApiError | None:
    """None when the request carries the bearer token, else the error to answer."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return errors.ApiError(401, "Unauthorized",
                               "this action needs the cluster token: open the dashboard with "
                               "the link `turnout dashboard` prints")
    if not token or not hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return errors.ApiError(403, "Forbidden", "wrong token")
    return None


def make_app(ctx: WebContext) -> Starlette:
    async def index(request: Request) -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse(_status(404, "NotFound", f"no file {name!r}"), status_code=404)
        return Response(_asset(name), media_type=STATIC[name])

    def need_telemetry() -> Telemetry:
        if ctx.telemetry is None:
            raise errors.ApiError(503, "ServiceUnavailable", "telemetry is not running")
        return ctx.telemetry

    async def telemetry(request: Request) -> Response:
        try:
            tel = need_telemetry()
            body = await asyncio.to_thread(json_api, tel, request.path_params["path"],
                                           dict(request.query_params))
        except errors.ApiError as e:
            return _error(e)
        return JSONResponse(body)

    async def histogram(request: Request) -> Response:
        q = request.query_params
        try:
            tel = need_telemetry()
            since = parse_duration(q.get("since") or "1h").total_seconds()
            versions = [v for v in q.getlist("version") if v][:4]
            if not versions:
                raise errors.bad_request("histogram needs ?version= (up to 4 times)")
            body = await asyncio.to_thread(
                queries.histogram, tel.model, request.path_params["ns"],
                request.path_params["svc"], versions, since)
        except errors.ApiError as e:
            return _error(e)
        return JSONResponse(body)

    async def traffic_map(request: Request) -> Response:
        try:
            since = parse_duration(request.query_params.get("since") or "5m")
            edges: list[Obj] = []
            splits: list[Obj] = []
            stats: dict[tuple[str, str], Obj] = {}
            if ctx.telemetry is not None:
                tel = ctx.telemetry
                edges, splits = await asyncio.to_thread(
                    queries.traffic, tel.store, since.total_seconds())
                for s in await asyncio.to_thread(tel.services, since):
                    stats[(str(s["namespace"]), str(s["service"]))] = s
        except errors.ApiError as e:
            return _error(e)
        store = ctx.objects.store
        body = traffic.build_map(
            edges, splits, store.iter("namespaces"),
            store.iter("virtualservices.networking.istio.io"),
            store.iter("destinationrules.networking.istio.io"), stats)
        body["since_seconds"] = since.total_seconds()
        body["telemetry"] = ctx.telemetry is not None
        return JSONResponse(body)

    def kind_of(request: Request) -> rollouts.Kind:
        kind = rollouts.KINDS.get(request.path_params["kind"])
        if kind is None or ctx.objects.registry.by_key(kind.key) is None:
            raise errors.ApiError(404, "NotFound",
                                  f"no rollout kind {request.path_params['kind']!r} (rollout, "
                                  "canary)")
        return kind

    async def rollout_list(request: Request) -> Response:
        items = []
        for kind in rollouts.KINDS.values():
            if ctx.objects.registry.by_key(kind.key) is None:
                continue
            for obj in ctx.objects.store.iter(kind.key):
                items.append(rollouts.summary(kind, obj))
        items.sort(key=lambda r: (r["namespace"], r["name"], r["kind"]))
        return JSONResponse({"kind": "RolloutList", "items": items})

    def get_rollout(request: Request) -> tuple[rollouts.Kind, Obj]:
        kind = kind_of(request)
        rt = ctx.objects.registry.by_key(kind.key)
        assert rt is not None
        return kind, ctx.objects.get(rt, request.path_params["ns"], request.path_params["name"])

    async def rollout_detail(request: Request) -> Response:
        try:
            kind, obj = get_rollout(request)
        except errors.ApiError as e:
            return _error(e)
        events = list(ctx.objects.store.iter("events", request.path_params["ns"]))
        return JSONResponse(rollouts.detail(kind, obj, events))

    async def rollout_command(request: Request) -> Response:
        denied = authorized(request, ctx.token)
        if denied is not None:
            return _error(denied)
        try:
            body = rollouts.command_patch(request.path_params["command"])
        except ValueError as e:
            return _error(errors.bad_request(str(e)))
        try:
            kind, _ = get_rollout(request)
            rt = ctx.objects.registry.by_key(kind.key)
            assert rt is not None
            ctx.objects.patch(rt, request.path_params["ns"], request.path_params["name"],
                              "application/merge-patch+json", body)
        except errors.ApiError as e:
            return _error(e)
        return JSONResponse({"kind": "Status", "status": "Success",
                             "message": f"{kind.kind.lower()} '{request.path_params['name']}' "
                                        f"{request.path_params['command']} requested",
                             "at": time.time()})

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/telemetry/{path:path}", telemetry),
        Route("/api/histogram/{ns}/{svc}", histogram),
        Route("/api/traffic", traffic_map),
        Route("/api/rollouts", rollout_list),
        Route("/api/rollouts/{kind}/{ns}/{name}", rollout_detail),
        Route("/api/rollouts/{kind}/{ns}/{name}/{command}", rollout_command, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(HostCheck, allowed=ctx.allowed_hosts)
    return app
