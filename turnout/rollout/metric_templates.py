"""Flagger `MetricTemplate`s: render the query, run it, hold the value to `thresholdRange`.

Why this exists: a Canary's custom metrics name a MetricTemplate (`templateRef`) whose `query`
is a Go template over the Canary — `{{ name }}`, `{{ namespace }}`, `{{ target }}`,
`{{ service }}`, `{{ ingress }}`, `{{ route }}`, `{{ interval }}`, `{{ variables.<k> }}` from the
metric's `templateVariables` — executed with `missingkey=error` (pkg/metrics/observers/render.go).
Rendering and judging are pure; running the query is the ``Querier``'s I/O: provider
`prometheus` (address, headers, secretRef with `token` or `username`+`password`, 5 s timeout)
through the Prometheus client of ``providers``. As in Flagger, an empty answer or NaN is "no
values found" and a failed check; several series: the last one wins. Provider `turnout` is
turnout's own canary-versus-primary verdict (the controller evaluates it). Any other provider
type is refused by name, never run as Prometheus.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from turnout.rollout import flagger, providers
from turnout.types import Obj

TYPES = ("prometheus", "turnout")
FUNCS = ("name", "namespace", "target", "service", "ingress", "route", "interval")


class RenderError(ValueError):
    pass


class NoValues(ValueError):
    pass


@dataclass(frozen=True)
class Model:
    """Flagger's `MetricTemplateModel`."""

    name: str
    namespace: str
    target: str
    service: str
    ingress: str
    route: str
    interval: str
    variables: dict[str, str] = field(default_factory=dict)


def model(canary: Obj, metric: Obj) -> Model:
    spec = canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name", ""))
    return Model(
        name=canary["metadata"]["name"], namespace=canary["metadata"]["namespace"],
        target=target,
        service=str((spec.get("service") or {}).get("name") or target),
        ingress=str((spec.get("ingressRef") or {}).get("name") or target),
        route=str((spec.get("routeRef") or {}).get("name") or target),
        interval=str(metric.get("interval") or "1m"),
        variables={str(k): str(v) for k, v in (metric.get("templateVariables") or {}).items()})


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def render(query: str, m: Model) -> str:
    """Execute the Go template subset Flagger's templates use (functions of the model,
    `variables.<key>`, comments, `{{-`/`-}}` trimming); a missing key is an error."""
    out: list[str] = []
    pos = 0
    for a in _ACTION.finditer(query):
        text = query[pos:a.start()]
        out.append(text.rstrip() if a.group(1) else text)
        pos = a.end()
        if a.group(3):
            rest = query[pos:]
            pos += len(rest) - len(rest.lstrip())
        out.append(_action(a.group(2).strip(), m, query.count("\n", 0, a.start()) + 1))
    out.append(query[pos:])
    return "".join(out)


def _action(expr: str, m: Model, line: int) -> str:
    where = f"template: tmpl:{line}"
    if expr.startswith("/*") and expr.endswith("*/"):
        return ""
    if expr in FUNCS:
        return str(getattr(m, expr))
    head, _, key = expr.partition(".")
    if head == "variables" and key and re.fullmatch(r"[\w-]+", key):
        if key not in m.variables:
            raise RenderError(f'{where}: executing "tmpl" at <variables.{key}>: map has no '
                              f'entry for key "{key}"')
        return m.variables[key]
    word = re.match(r"[\w.]*", expr)
    name = word.group(0) if word and word.group(0) else expr
    if name.split(".")[0] not in (*FUNCS, "variables"):
        raise RenderError(f'{where}: function "{name}" not defined')
    raise RenderError(f"{where}: unsupported action {{{{ {expr} }}}} (turnout renders "
                      f"{', '.join(FUNCS)} and variables.<key>)")


def judge(name: str, value: float, threshold_range: Obj) -> str:
    """Flagger's check of a custom metric: '' if within `thresholdRange`, else why not."""
    lo, hi = threshold_range.get("min"), threshold_range.get("max")
    if lo is not None and value < float(lo):
        return f"{name} {value:.2f} < {lo:g}"
    if hi is not None and value > float(hi):
        return f"{name} {value:.2f} > {hi:g}"
    return ""


def prometheus_value(doc: Any) -> float:
    """The number Flagger takes from a Prometheus answer: the last series' value."""
    if not isinstance(doc, dict) or doc.get("status") not in (None, "success"):
        err = doc.get("error") if isinstance(doc, dict) else doc
        raise ValueError(f"error response: {err}")
    data = doc.get("data") or {}
    if data.get("resultType") == "scalar":
        value = float(data["result"][1])
    else:
        found: float | None = None
        for series in data.get("result") or []:
            if "values" in series:
                raise ValueError("query returned multiple values (a range vector); "
                                 "query an instant vector")
            found = float(series["value"][1])
        if found is None:
            raise NoValues("no values found")
        value = found
    if math.isnan(value):
        raise NoValues("no values found (NaN)")
    return value


def credentials(secret: Obj) -> dict[str, str]:
    """A Secret's data, decoded."""
    out = {str(k): str(v) for k, v in (secret.get("stringData") or {}).items()}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v)).decode()
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ValueError(f"secret key {k}: not base64 text ({e})") from None
    return out


def request_headers(provider: Obj, creds: dict[str, str] | None) -> dict[str, str]:
    """`provider.headers` (Go's http.Header: a name → list of values) plus the credentials
    (`token` as a Bearer token, else `username` + `password` as basic auth)."""
    headers: dict[str, str] = {}
    for k, v in (provider.get("headers") or {}).items():
        headers[str(k)] = ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)
    if creds is not None:
        if creds.get("token"):
            headers["Authorization"] = f"Bearer {creds['token']}"
        elif creds.get("username") and creds.get("password"):
            pair = f"{creds['username']}:{creds['password']}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        else:
            raise ValueError("credentials contain neither a token nor a username and password")
    return headers


def provider_type(template: Obj) -> str:
    """The template's provider type; anything turnout cannot run raises, naming the field."""
    ptype = str(((template.get("spec") or {}).get("provider") or {}).get("type") or "")
    if ptype not in TYPES:
        meta = template["metadata"]
        raise flagger.SpecError(
            f"MetricTemplate {meta.get('namespace')}/{meta['name']}: spec.provider.type",
            f"unsupported provider {ptype!r} (turnout runs {', '.join(TYPES)})")
    return ptype


class Querier(Protocol):
    def query(self, address: str, query: str, headers: dict[str, str],
              timeout: float) -> Any: ...


class HttpQuerier:
    """Prometheus over HTTP, through the client the Argo provider uses."""

    def query(self, address: str, query: str, headers: dict[str, str],
              timeout: float) -> Any:
        return providers.prometheus_query(address, query, timeout, headers)


@dataclass
class FakeQuerier:
    """Answers every query with ``answer`` (a document, or an exception to raise)."""

    answer: Any = None
    queries: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def query(self, address: str, query: str, headers: dict[str, str],
              timeout: float) -> Any:
        self.queries.append((address, query, headers))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@dataclass(frozen=True)
class Check:
    """One custom metric's outcome: failed or not, the value, and a sentence."""

    ok: bool
    reason: str
    value: float | None = None


def run_prometheus(template: Obj, metric: Obj, m: Model, creds: dict[str, str] | None,
                   querier: Querier) -> Check:
    """Render, query and judge one `prometheus` template metric."""
    spec = template.get("spec") or {}
    prov = spec.get("provider") or {}
    name = str(metric["name"])
    address = str(prov.get("address") or "")
    if not address.startswith(("http://", "https://")):
        return Check(False, f"metric {name}: prometheus address {address!r} is not a valid URL")
    try:
        query = re.sub(r"\s+", " ", render(str(spec.get("query") or ""), m)).strip()
        headers = request_headers(prov, creds)
    except ValueError as e:
        return Check(False, f"metric {name}: {e}")
    try:
        value = prometheus_value(querier.query(address, query, headers, 5.0))
    except NoValues as e:
        return Check(False, f"no values found for custom metric: {name}: {e}")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return Check(False, f"metric query failed for {name}: " + providers.failed(
            "flagger-prometheus", f"query to {address}", e))
    why = judge(name, value, metric.get("thresholdRange") or {})
    if why:
        return Check(False, why, value)
    return Check(True, f"{name} {value:.2f} within {_range(metric)}", value)


def _range(metric: Obj) -> str:
    r = metric.get("thresholdRange") or {}
    lo, hi = r.get("min"), r.get("max")
    return "[" + (f"{lo:g}" if lo is not None else "-inf") + ", " + (
        f"{hi:g}" if hi is not None else "+inf") + "]"
