"""Flagger's webhooks: which run when, the body Flagger POSTs, and the one place that calls.

Why this exists: a Canary's `analysis.webhooks` gate and feed the rollout (confirm-rollout,
pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, post-rollout, rollback,
event). Choosing the hooks and building the body are pure (``parse``, ``of_type``, ``payload``,
``event_payload``); ``HttpCaller`` is the edge that does HTTP, with Flagger's rules
(pkg/controller/webhook.go): POST JSON `{name, namespace, phase, checksum, metadata}`, `timeout`
per attempt (10s), `retries` extra attempts after a connection error or a 5xx/429 answer, and
**pass = status ≤ 202** (a 204 fails; the answer's body is the error). Controllers call it from
a worker thread, never the event loop. ``FakeCaller`` answers in tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from turnout.rollout import flagger
from turnout.types import Obj

log = logging.getLogger("turnout.rollout.webhooks")


@dataclass(frozen=True)
class Hook:
    name: str
    type: str  # one of flagger_spec.HOOK_TYPES; "" is read as rollout
    url: str
    timeout: float = 10.0
    retries: int = 0
    metadata: tuple[tuple[str, str], ...] = ()
    mute_alert: bool = False
    disable_tls: bool = False


def parse(spec: Obj) -> list[Hook]:
    """The Canary's webhooks, in spec order (validated by ``flagger_spec.validate``)."""
    out = []
    for h in flagger.analysis(spec).get("webhooks") or []:
        timeout = str(h.get("timeout") or "")
        out.append(Hook(
            name=str(h.get("name", "")), type=str(h.get("type") or "rollout"),
            url=str(h.get("url", "")),
            timeout=flagger.seconds(timeout, 10.0) if len(timeout) >= 2 else 10.0,
            retries=max(0, int(h.get("retries") or 0)),
            metadata=tuple((str(k), str(v)) for k, v in (h.get("metadata") or {}).items()),
            mute_alert=bool(h.get("muteAlert")), disable_tls=bool(h.get("disableTLS"))))
    return out


def of_type(hooks: list[Hook], type_: str) -> list[Hook]:
    return [h for h in hooks if h.type == type_]


def checksum(status: Obj) -> str:
    """Flagger's `canaryChecksum`: a hash of lastAppliedSpec and trackedConfigs, so a gate can
    tell one revision's calls from the next one's."""
    raw = json.dumps({"TrackedConfigs": status.get("trackedConfigs"),
                      "LastAppliedSpec": status.get("lastAppliedSpec", "")}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def payload(canary: Obj, phase: str, hook: Hook) -> Obj:
    meta = canary["metadata"]
    body: Obj = {"name": meta["name"], "namespace": meta["namespace"], "phase": phase,
                 "checksum": checksum(canary.get("status") or {})}
    if hook.metadata:
        body["metadata"] = dict(hook.metadata)
    return body


def event_payload(canary: Obj, hook: Hook, message: str, event_type: str,
                  now: float) -> Obj:
    """The body of an `event` hook: the event in metadata, the hook's own metadata after it."""
    body = payload(canary, str((canary.get("status") or {}).get("phase", "")), hook)
    meta = {"eventMessage": message, "eventType": event_type,
            "timestamp": str(int(now * 1000))}
    for k, v in hook.metadata:
        meta.setdefault(k, v)
    body["metadata"] = meta
    return body


@dataclass(frozen=True)
class Result:
    hook: Hook
    status: int | None  # None: no answer (connection error, timeout)
    body: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.status is not None and self.status <= 202

    @property
    def reason(self) -> str:
        """Why it did not pass, as Flagger reports it: the answer's body, else the error."""
        if self.error:
            return self.error
        return self.body.strip() or f"status {self.status}"


class Caller(Protocol):
    def call(self, hook: Hook, body: Obj) -> Result: ...


_RETRY = frozenset({429, 500, 502, 503, 504})


class HttpCaller:
    """POSTs hooks over HTTP (no proxy: the control plane resolves Service names itself)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 backoff: float = 1.0) -> None:
        self.sleep = sleep
        self.backoff = backoff
        self.failures = 0  # calls that got no answer: visible in tests and `turnout analyze`

    def call(self, hook: Hook, body: Obj) -> Result:
        data = json.dumps(body).encode()
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if hook.disable_tls:
            handlers.append(urllib.request.HTTPSHandler(
                context=ssl._create_unverified_context()))  # disableTLS: the hook asks for it
        opener = urllib.request.build_opener(*handlers)
        result = Result(hook, None, error="not called")
        for attempt in range(hook.retries + 1):
            req = urllib.request.Request(hook.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with opener.open(req, timeout=hook.timeout) as r:
                    result = Result(hook, r.status, r.read(65536).decode(errors="replace"))
            except urllib.error.HTTPError as e:
                result = Result(hook, e.code, e.read(65536).decode(errors="replace"))
            except (OSError, ValueError) as e:
                self.failures += 1
                log.warning("webhook %s %s: no answer (%s), attempt %d/%d", hook.name,
                            hook.url, e, attempt + 1, hook.retries + 1)
                result = Result(hook, None, error=f"Post {hook.url!r}: {e}")
            retry = result.status is None or result.status in _RETRY
            if not retry or attempt == hook.retries:
                break
            self.sleep(min(30.0, self.backoff * 2 ** attempt))
        if result.status is not None and result.status in _RETRY:  # as go-retryablehttp
            result = Result(hook, result.status, result.body,
                            f"POST {hook.url} giving up after {hook.retries + 1} attempt(s): "
                            f"{result.body.strip() or result.status}")
        return result


Answer = int | tuple[int, str] | Callable[[Hook, Obj], tuple[int, str]]


@dataclass
class FakeCaller:
    """Answers by URL: a status, (status, body), or a function of the hook and body; an URL
    with no answer gets no answer (a connection error). Records every call."""

    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[tuple[Hook, Obj]] = field(default_factory=list)

    def call(self, hook: Hook, body: Obj) -> Result:
        self.calls.append((hook, body))
        a = self.answers.get(hook.url)
        if a is None:
            return Result(hook, None, error=f"Post {hook.url!r}: connection refused")
        if callable(a):
            a = a(hook, body)
        status, text = (a, "") if isinstance(a, int) else a
        return Result(hook, status, text)

    def called(self, type_: str) -> list[Obj]:
        return [body for hook, body in self.calls if hook.type == type_]
