"""The ASGI application: routing, auth, content negotiation, and the HTTP verbs.

It holds no business logic: every write goes through `turnout.store.objects.Objects`; this module
only turns HTTP into those calls and their results (or `Status` errors) back into HTTP.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from turnout import __version__
from turnout.api import discovery, openapi, paths, watch
from turnout.kube import errors, protobuf, tables
from turnout.kube.resources import ResourceType
from turnout.store.objects import DeleteOptions, Objects
from turnout.telemetry import api as telemetry_api
from turnout.telemetry.service import Telemetry
from turnout.types import Obj

KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-turnout",
                "gitCommit": "turnout-" + __version__, "gitTreeState": "clean",
                "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.23.0",
                "compiler": "gc", "platform": "linux/amd64"}

log = logging.getLogger("turnout.api")

TELEMETRY_PREFIX = "/turnout/v1/telemetry/"
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})


class LogSource(Protocol):
    def read(self, namespace: str, pod: str, container: str, *, previous: bool,
             timestamps: bool, tail: int | None, since_seconds: int | None,
             limit_bytes: int | None) -> bytes: ...

    def follow(self, namespace: str, pod: str, container: str, *, timestamps: bool,
               tail: int | None, since_seconds: int | None) -> AsyncIterator[bytes]: ...


@dataclass
class ApiContext:
    objects: Objects
    token: str
    server_address: str = "127.0.0.1:6443"
    logs: LogSource | None = None
    telemetry: Telemetry | None = None
    bookmark_seconds: float = 10.0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def _json(obj: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type=content_type)


def _error(err: errors.ApiError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return Response(json.dumps(err.status()), status_code=err.code,
                    media_type="application/json", headers=headers)


def wants_table(accept: str) -> bool:
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def make_app(ctx: ApiContext) -> Starlette:
    async def endpoint(request: Request) -> Response:
        try:
            return await dispatch(ctx, request)
        except errors.ApiError as e:
            return _error(e)
        except Exception as e:  # a bug must still answer in the API's own error shape
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(errors.ApiError(500, "InternalError",
                                          f"Internal error occurred: {type(e).__name__}: {e}"))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


def _authorized(ctx: ApiContext, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), ctx.token.encode())


async def dispatch(ctx: ApiContext, request: Request) -> Response:
    path = request.url.path.rstrip("/") or "/"
    if path == "/version":
        return _json(KUBE_VERSION)
    if path in PUBLIC_PATHS:
        return PlainTextResponse("ok")
    if not _authorized(ctx, request):
        raise errors.unauthorized()
    reg = ctx.objects.registry
    if path.startswith(TELEMETRY_PREFIX):
        if ctx.telemetry is None:
            raise errors.ApiError(503, "ServiceUnavailable", "telemetry is not running")
        # DuckDB queries are synchronous: keep them off the event loop
        answer = await asyncio.to_thread(telemetry_api.json_api, ctx.telemetry,
                                         path[len(TELEMETRY_PREFIX):],
                                         dict(request.query_params))
        return _json(answer)
    if path == "/openapi/v3":
        return _json(openapi.root(reg))
    if path.startswith("/openapi/v3/"):
        rest = path[len("/openapi/v3/"):]
        parts = rest.split("/")
        group, version = ("", parts[1]) if parts[0] == "api" and len(parts) == 2 else \
            (parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else ("", "")
        doc = openapi.document(reg, group, version) if version else None
        if doc is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested "
                                  "resource")
        return _json(doc)
    if path == "/openapi/v2":
        pb = openapi.V2_PROTOBUF in request.headers.get("accept", "")
        return Response(openapi.v2_document(pb),
                        media_type=openapi.V2_CONTENT_TYPE if pb else "application/json")
    target = paths.parse(path)
    if isinstance(target, paths.DiscoveryPath):
        return _discovery(ctx, request, target)
    if isinstance(target, paths.ResourcePath):
        return await _resource(ctx, request, target)
    raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def _discovery(ctx: ApiContext, request: Request, t: paths.DiscoveryPath) -> Response:
    reg = ctx.objects.registry
    if t.version is None and t.group is None:
        agg = discovery.aggregated_version(request.headers.get("accept", ""))
        if agg is not None:
            return _json(discovery.aggregated(reg, t.legacy, agg),
                         content_type=discovery.aggregated_content_type(agg))
        if t.legacy:
            return _json(discovery.api_versions(ctx.server_address))
        return _json(discovery.api_group_list(reg))
    if t.version is None:
        doc = discovery.api_group(reg, t.group or "")
    else:
        doc = discovery.api_resource_list(reg, t.group or "", t.version)
    if doc is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    return _json(doc)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    ctype = request.headers.get("content-type", "application/json")
    if "protobuf" in ctype:
        # kubectl's typed commands (create namespace, run, ...) send protobuf and never fall back
        return protobuf.decode(raw)
    if "cbor" in ctype:
        raise errors.unsupported_media_type(ctype)  # client-go falls back to JSON on 415
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"the body of the request could not be decoded: {e}") from e


async def _resource(ctx: ApiContext, request: Request, t: paths.ResourcePath) -> Response:
    reg = ctx.objects.registry
    rt = reg.lookup(t.group, t.version, t.plural)
    if rt is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    if t.namespace and not rt.namespaced:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    if t.subresource and t.subresource not in rt.subresources:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    q = request.query_params
    method = request.method
    objs = ctx.objects
    dry = q.get("dryRun") == "All"
    strict = q.get("fieldValidation", "").lower() == "strict"
    if not t.name:
        if method in ("GET", "HEAD"):
            if q.get("watch", "").lower() in ("true", "1"):
                return await _watch(ctx, request, rt, t)
            return _list(ctx, request, rt, t)
        if method == "POST":
            created = objs.create(rt, t.namespace, await _body(request), dry_run=dry,
                                  strict=strict, version=t.version)
            return _json(created, 201)
        if method == "DELETE":
            items, _ = objs.list(rt, t.namespace, q.get("labelSelector", ""),
                                 q.get("fieldSelector", ""), t.version)
            opts = DeleteOptions.from_json(await _body(request), dict(q))
            deleted = [objs.delete(rt, i["metadata"].get("namespace", ""),
                                   i["metadata"]["name"], opts, t.version) for i in items]
            return _json({"kind": rt.list_kind, "apiVersion": rt.api_version(t.version),
                          "metadata": {"resourceVersion": str(objs.store.resource_version)},
                          "items": deleted})
        raise errors.method_not_allowed(f"{method} is not supported on a collection")
    if t.subresource == "log":
        return await _logs(ctx, request, rt, t)
    if t.subresource == "scale":
        if method == "GET":
            return _json(objs.scale(rt, t.namespace, t.name))
        if method == "PUT":
            return _json(objs.update_scale(rt, t.namespace, t.name, await _body(request)))
    if method == "GET":
        return _json(_one(ctx, request, rt, objs.get(rt, t.namespace, t.name, t.version)))
    if method == "PUT":
        return _json(objs.update(rt, t.namespace, t.name, await _body(request),
                                 subresource=t.subresource, dry_run=dry, strict=strict,
                                 version=t.version))
    if method == "PATCH":
        return _json(objs.patch(rt, t.namespace, t.name,
                                request.headers.get("content-type", ""), await _body(request),
                                subresource=t.subresource, dry_run=dry, strict=strict,
                                version=t.version, force=q.get("force") == "true"))
    if method == "DELETE":
        opts = DeleteOptions.from_json(await _body(request), dict(q))
        opts.dry_run = opts.dry_run or dry
        return _json(objs.delete(rt, t.namespace, t.name, opts, t.version))
    raise errors.method_not_allowed(f"{method} is not supported")


def _now() -> datetime:
    return datetime.now(UTC)


def _one(ctx: ApiContext, request: Request, rt: ResourceType, obj: Obj) -> Obj:
    if wants_table(request.headers.get("accept", "")):
        return tables.table(rt, [obj], now=_now(),
                            include_object=request.query_params.get("includeObject", "Metadata"),
                            resource_version=obj["metadata"].get("resourceVersion", ""))
    return obj


def _list(ctx: ApiContext, request: Request, rt: ResourceType, t: paths.ResourcePath) -> Response:
    q = request.query_params
    items, rv = ctx.objects.list(rt, t.namespace, q.get("labelSelector", ""),
                                 q.get("fieldSelector", ""), t.version)
    if wants_table(request.headers.get("accept", "")):
        return _json(tables.table(rt, items, now=_now(),
                                  include_object=q.get("includeObject", "Metadata"),
                                  resource_version=str(rv)))
    if rt.builtin:  # typed lists carry no per-item kind; custom resources keep theirs
        for i in items:
            i.pop("apiVersion", None)
            i.pop("kind", None)
    return _json({"kind": rt.list_kind, "apiVersion": rt.api_version(t.version),
                  "metadata": {"resourceVersion": str(rv)}, "items": items})


async def _watch(ctx: ApiContext, request: Request, rt: ResourceType,
                 t: paths.ResourcePath) -> Response:
    q = request.query_params
    spec = watch.WatchSpec.from_query(rt, t.namespace, t.version, dict(q),
                                      table=wants_table(request.headers.get("accept", "")))
    watch.check(ctx.objects, spec)  # 400 / 410 Gone before any byte is sent
    stream = watch.stream(ctx.objects, spec, bookmark_seconds=ctx.bookmark_seconds,
                          stopping=ctx.stopping)
    return StreamingResponse(stream, media_type="application/json")


async def _logs(ctx: ApiContext, request: Request, rt: ResourceType,
                t: paths.ResourcePath) -> Response:
    pod = ctx.objects.get(rt, t.namespace, t.name)
    q = request.query_params
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
    container = q.get("container", "")
    if not container:
        if len(names) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {t.name}, choose one of: "
                f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(inits)}]"
                                          if inits else ""))
        container = names[0]
    elif container not in names + inits:
        raise errors.bad_request(f"container {container} is not valid for pod {t.name}")
    if ctx.logs is None:
        raise errors.ApiError(503, "ServiceUnavailable", "no kubelet is running")
    tail = int(q["tailLines"]) if q.get("tailLines") else None
    since = int(q["sinceSeconds"]) if q.get("sinceSeconds") else None
    limit = int(q["limitBytes"]) if q.get("limitBytes") else None
    timestamps = q.get("timestamps") == "true"
    if q.get("follow") == "true":
        gen = ctx.logs.follow(t.namespace, t.name, container, timestamps=timestamps,
                              tail=tail, since_seconds=since)
        return StreamingResponse(gen, media_type="text/plain")
    data = ctx.logs.read(t.namespace, t.name, container, previous=q.get("previous") == "true",
                         timestamps=timestamps, tail=tail, since_seconds=since,
                         limit_bytes=limit)
    return Response(data, media_type="text/plain")
