"""The API application in-process over an in-memory store: requests go through the real ASGI
app (routing, auth, options, admission) without a listener."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from turnout.api.app import ApiContext, make_app
from turnout.cluster import bootstrap
from turnout.kube.resources import Registry
from turnout.store.db import Store
from turnout.store.objects import Objects

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def world() -> Objects:
    return bootstrap_into(Objects(Store(None), Registry()))


def bootstrap_into(o: Objects) -> Objects:
    bootstrap.bootstrap(o)
    return o


class Client:
    """A synchronous face on httpx's ASGI transport (one event loop per request)."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.app = make_app(ctx)

    def request(self, method: str, path: str, *, content: bytes | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                r = await c.request(method, path, content=content, headers=headers)
                await r.aread()
                return r

        return asyncio.run(go())


def client(objects: Objects | None = None) -> tuple[Client, Objects]:
    o = objects or world()
    return Client(ApiContext(o, TOKEN)), o


def dump(o: Objects) -> str:
    """Every stored object and the resourceVersion: equal dumps = an unchanged store."""
    objs = sorted(((k, json.dumps(v, sort_keys=True)) for k, v in o.store._objects.items()),
                  key=lambda kv: kv[0])
    return json.dumps([o.store.resource_version, objs])


def request(c: Client, method: str, path: str, body: Any = None, *,
            content_type: str = "application/json", headers: dict[str, str] | None = None
            ) -> Any:
    raw: bytes | None
    if body is None:
        raw = None
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body).encode()
    hdrs = {**AUTH, "Content-Type": content_type, **(headers or {})}
    return c.request(method, path, content=raw, headers=hdrs)
