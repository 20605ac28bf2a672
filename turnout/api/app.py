"""The ASGI application: routing, auth, content negotiation, and the HTTP verbs.

It holds no business logic: every write goes through `turnout.store.objects.Objects`; this module
only turns HTTP into those calls and their results (or `Status` errors) back into HTTP.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from turnout import __version__
from turnout.api import discovery, listing, openapi, options, paths, watch
from turnout.kube import decoding, errors, eviction, listoptions, protobuf, tables
from turnout.kube.resources import ResourceType
from turnout.store.objects import Objects
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


def _json(obj: Any, status: int = 200, content_type: str = "application/json",
          warnings: list[str] | None = None) -> Response:
    resp = Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type=content_type)
    for w in warnings or ():  # RFC 7234 warn-code 299, as kube-apiserver's warning recorder
        text = _CONTROL.sub("?", w).replace("\\", "\\\\").replace('"', '\\"')
        # UTF-8 on the wire (a field name may be any string), never a raw CR/LF
        resp.headers.append("Warning", f'299 - "{text}"'.encode().decode("latin-1"))
    return resp


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _error(err: errors.ApiError) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return Response(err.body(), status_code=err.code, media_type="application/json",
                    headers=headers)


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


MAX_BODY_BYTES = 3 * 1024 * 1024
"""kube-apiserver's MaxRequestBodyBytes."""
BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


async def _body(request: Request, kind: str = "") -> Any:
    """The decoded body. `kind`: the object a create/update expects, which kube-apiserver
    names in its decode errors (`the object provided is unrecognized (must be of type X)`)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.too_large(MAX_BODY_BYTES)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise errors.too_large(MAX_BODY_BYTES)
    if not raw:
        return None
    ctype = request.headers.get("content-type", "application/json") or "application/json"
    media = ctype.split(";")[0].strip().lower()
    if "protobuf" in media:
        # kubectl's typed commands (create namespace, run, ...) send protobuf and never fall back
        return protobuf.decode(raw)
    if "cbor" in media:
        raise errors.unsupported_media_type(ctype)  # client-go falls back to JSON on 415
    if request.method in ("POST", "PUT") and media not in BODY_TYPES and \
            media not in ("text/yaml", "application/x-yaml", "*/*"):
        raise errors.ApiError(
            415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
            f'accepted media types include: {", ".join(BODY_TYPES)} (got "{ctype}")')
    try:
        data = decoding.loads_yaml(raw) if "yaml" in media else decoding.loads_json(raw)
        if decoding.depth(data) > decoding.MAX_DEPTH:
            raise decoding.DecodeError(f"exceeded max depth of {decoding.MAX_DEPTH}")
    except decoding.DecodeError as e:
        raise _decode_error(str(e), kind, raw, yaml_body="yaml" in media) from None
    return data


def _decode_error(why: str, kind: str, raw: bytes, *, yaml_body: bool) -> errors.ApiError:
    """kube-apiserver's transformDecodeError for creates and updates; patches say why only."""
    if not kind:
        return errors.bad_request(why)
    if not yaml_body and not why.startswith("exceeded"):
        why = f"couldn't get version/kind; json parse error: {why}"
    summary = raw[:30].decode("utf-8", "replace") if raw[:1] == b"{" else raw[:30].hex()
    if len(raw) > 30:
        summary += " ..."
    return errors.bad_request(f"the object provided is unrecognized (must be of type {kind}): "
                              f"{why} ({summary})")


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
    agent = request.headers.get("user-agent", "")
    if not t.name:
        if method in ("GET", "HEAD"):
            lopts = listoptions.parse(q)
            if lopts.watch:
                return await _watch(ctx, request, rt, t, lopts)
            return _list(ctx, request, rt, t, lopts)
        if method == "POST":
            w = options.write_options(q, agent, kind="CreateOptions")
            warned: list[str] | None = [] if w.warn else None
            created = objs.create(rt, t.namespace, await _body(request, rt.kind),
                                  dry_run=w.dry_run, strict=w.strict, version=t.version,
                                  manager=w.field_manager, warnings=warned)
            return _json(created, 201, warnings=warned)
        if method == "DELETE":
            lopts = listoptions.parse(q)
            opts = options.delete_options(await _body(request), q)
            items, _ = objs.list(rt, t.namespace, lopts.label_selector, lopts.field_selector,
                                 t.version)
            deleted = [objs.delete(rt, i["metadata"].get("namespace", ""),
                                   i["metadata"]["name"], opts, t.version) for i in items]
            return _json({"kind": rt.list_kind, "apiVersion": rt.api_version(t.version),
                          "metadata": {"resourceVersion": str(objs.store.resource_version)},
                          "items": deleted})
        raise errors.method_not_allowed(f"{method} is not supported on a collection")
    if t.subresource == "log":
        if method != "GET":
            raise errors.method_not_allowed(f"{method} is not supported on pods/log")
        return await _logs(ctx, request, rt, t)
    if t.subresource == "eviction":
        if method != "POST":
            raise errors.method_not_allowed(f"{method} is not supported on pods/eviction")
        return _evict(ctx, rt, t, await _body(request, "Eviction"))
    if t.subresource == "scale":
        if method == "GET":
            return _json(objs.scale(rt, t.namespace, t.name))
        if method == "PUT":
            return _json(objs.update_scale(rt, t.namespace, t.name, await _body(request)))
        if method != "PATCH":
            raise errors.method_not_allowed(f"{method} is not supported on scale")
    if method in ("GET", "HEAD"):
        return _json(_one(ctx, request, rt, objs.get(rt, t.namespace, t.name, t.version)))
    if method == "PUT":
        w = options.write_options(q, agent, kind="UpdateOptions")
        warned = [] if w.warn else None
        return _json(objs.update(rt, t.namespace, t.name, await _body(request, rt.kind),
                                 subresource=t.subresource, dry_run=w.dry_run, strict=w.strict,
                                 version=t.version, manager=w.field_manager, warnings=warned),
                     warnings=warned)
    if method == "PATCH":
        ctype = request.headers.get("content-type", "")
        apply = ctype.split(";")[0].strip() in ("application/apply-patch+yaml",
                                                "application/apply-patch+cbor")
        w = options.write_options(q, agent, kind="PatchOptions", apply=apply)
        is_new = apply and not t.subresource and objs.store.peek(
            rt.key, t.namespace if rt.namespaced else "", t.name) is None
        warned = [] if w.warn else None
        return _json(objs.patch(rt, t.namespace, t.name, ctype, await _body(request),
                                subresource=t.subresource, dry_run=w.dry_run, strict=w.strict,
                                version=t.version, force=w.force, manager=w.field_manager,
                                warnings=warned),
                     201 if is_new else 200, warnings=warned)
    if method == "DELETE":
        opts = options.delete_options(await _body(request), q)
        return _json(objs.delete(rt, t.namespace, t.name, opts, t.version))
    raise errors.method_not_allowed(f"{method} is not supported")


def _evict(ctx: ApiContext, rt: ResourceType, t: paths.ResourcePath, body: Any) -> Response:
    """POST pods/NAME/eviction (policy/v1 Eviction): delete the pod unless a budget forbids."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of an eviction must be a policy/v1 Eviction object")
    if body.get("kind") not in (None, "Eviction"):
        raise errors.bad_request(f"the object provided is unrecognized (kind {body['kind']} "
                                 "does not match Eviction)")
    if (body.get("metadata") or {}).get("name", t.name) != t.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    opts = options.delete_options(body.get("deleteOptions"), {})
    objs = ctx.objects
    pod = objs.get(rt, t.namespace, t.name)
    if not pod["metadata"].get("deletionTimestamp"):
        pdb_rt = objs.registry.lookup("policy", "v1", "poddisruptionbudgets")
        budgets = objs.list(pdb_rt, t.namespace)[0] if pdb_rt is not None else []
        refused = eviction.check(pod, budgets, objs.list(rt, t.namespace)[0] if budgets else [])
        if refused is not None:
            raise refused
    objs.delete(rt, t.namespace, t.name, opts)
    return _json(eviction.success(), 201)


def _now() -> datetime:
    return datetime.now(UTC)


def _one(ctx: ApiContext, request: Request, rt: ResourceType, obj: Obj) -> Obj:
    if wants_table(request.headers.get("accept", "")):
        return tables.table(rt, [obj], now=_now(),
                            include_object=request.query_params.get("includeObject", "Metadata"),
                            resource_version=obj["metadata"].get("resourceVersion", ""))
    return obj


def _list(ctx: ApiContext, request: Request, rt: ResourceType, t: paths.ResourcePath,
          lopts: listoptions.ListOptions) -> Response:
    q = request.query_params
    page = listing.page(ctx.objects, rt, t.namespace, lopts, t.version)
    if wants_table(request.headers.get("accept", "")):
        table = tables.table(rt, page.items, now=_now(),
                             include_object=q.get("includeObject", "Metadata"),
                             resource_version=str(page.resource_version))
        table["metadata"].update(page.metadata())
        return _json(table)
    items = page.items
    if rt.builtin:  # typed lists carry no per-item kind; custom resources keep theirs
        for i in items:
            i.pop("apiVersion", None)
            i.pop("kind", None)
    return _json({"kind": rt.list_kind, "apiVersion": rt.api_version(t.version),
                  "metadata": page.metadata(), "items": items})


async def _watch(ctx: ApiContext, request: Request, rt: ResourceType,
                 t: paths.ResourcePath, lopts: listoptions.ListOptions) -> Response:
    spec = watch.WatchSpec.from_query(rt, t.namespace, t.version, lopts,
                                      table=wants_table(request.headers.get("accept", "")),
                                      include_object=request.query_params.get("includeObject",
                                                                              "Metadata"))
    watch.check(ctx.objects, spec)  # 400 / 504 before any byte is sent
    stream = watch.stream(ctx.objects, spec, bookmark_seconds=ctx.bookmark_seconds,
                          stopping=ctx.stopping)
    return StreamingResponse(stream, media_type="application/json")


async def _logs(ctx: ApiContext, request: Request, rt: ResourceType,
                t: paths.ResourcePath) -> Response:
    lo = options.log_options(request.query_params, t.name)
    pod = ctx.objects.get(rt, t.namespace, t.name)
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    container = lo.container
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
    if lo.follow:
        gen = ctx.logs.follow(t.namespace, t.name, container, timestamps=lo.timestamps,
                              tail=lo.tail, since_seconds=lo.since_seconds)
        return StreamingResponse(gen, media_type="text/plain")
    data = ctx.logs.read(t.namespace, t.name, container, previous=lo.previous,
                         timestamps=lo.timestamps, tail=lo.tail, since_seconds=lo.since_seconds,
                         limit_bytes=lo.limit_bytes)
    return Response(data, media_type="text/plain")
