"""`turnout services|versions|compare`: the per-version telemetry of the running cluster.

Thin shell: each command asks the cluster's JSON API (`/turnout/v1/telemetry/...`) and prints a
table that fits 80 columns (`-o wide` for every column), or the API's document with `-o json` or
`-o yaml`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeGuard

from rich.console import Console, Group, RenderableType
from rich.text import Text

from turnout.analysis import fmt
from turnout.cli import client, cluster_cmds, output
from turnout.cli.output import Cell
from turnout.kube.tables import human_duration
from turnout.types import Obj

API = "/turnout/v1/telemetry/"
console = Console(stderr=True)
out = Console()

_QS = ("p50", "p75", "p90", "p95", "p99", "max")


def register(sub: Any) -> None:
    def common(p: argparse.ArgumentParser, since: str | None) -> None:
        p.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
        p.add_argument("--since", default=since,
                       help=f"time window, e.g. 30s, 10m, 2h (default: {since or 'all'})")
        output.add_output_option(p)

    def service(p: argparse.ArgumentParser) -> None:
        p.add_argument("service", help="service name, as `turnout services` lists it")
        p.add_argument("-n", "--namespace", default="default",
                       help="namespace of the service (default: default)")

    s = sub.add_parser("services", help="services seen by the mesh, with their versions")
    common(s, "1h")
    s.set_defaults(func=cmd_services)
    v = sub.add_parser("versions", help="a service's revisions, by version: traffic, errors, "
                       "latency, new error types")
    service(v)
    common(v, None)
    v.set_defaults(func=cmd_versions)
    c = sub.add_parser("compare", help="two revisions of a service side by side")
    service(c)
    c.add_argument("--baseline", help="version or revision to compare against (default: the "
                   "revision deployed before the candidate)")
    c.add_argument("--candidate", help="version or revision under test (default: the "
                   "revision deployed last)")
    common(c, "1h")
    c.set_defaults(func=cmd_compare)


def fetch(args: argparse.Namespace, path: str, query: Mapping[str, str | None]) -> Obj | None:
    """GET a telemetry resource from the running cluster; prints the error and returns None."""
    state = client.state_of(args)
    live = cluster_cmds.running(state)
    if live is None:
        console.print("turnout is not running: start it with `turnout up`")
        return None
    qs = urllib.parse.urlencode({k: v for k, v in query.items() if v})
    try:
        body = state.request(live[1], API + path + (f"?{qs}" if qs else ""), timeout=60)
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("message", str(e))
        except ValueError:
            msg = str(e)
        console.print(f"[red]error:[/] {msg}", highlight=False)
        return None
    data: Obj = json.loads(body)
    return data


def _emit(args: argparse.Namespace, data: Obj,
          view: Callable[[bool], RenderableType]) -> int:
    output.emit(out, args.output, data, view)
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    data = fetch(args, "services", {"since": args.since})
    return 1 if data is None else _emit(args, data, lambda wide: services_table(data, wide))


def cmd_versions(args: argparse.Namespace) -> int:
    path = f"services/{_q(args.namespace)}/{_q(args.service)}/versions"
    data = fetch(args, path, {"since": args.since})
    return 1 if data is None else _emit(
        args, data, lambda wide: versions_table(data, time.time(), wide))


def cmd_compare(args: argparse.Namespace) -> int:
    path = f"services/{_q(args.namespace)}/{_q(args.service)}/compare"
    data = fetch(args, path, {"since": args.since, "baseline": args.baseline,
                              "candidate": args.candidate})
    return 1 if data is None else _emit(args, data, lambda wide: compare_view(data, wide))


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


# -- rendering (pure: JSON in, Rich renderables out) --------------------------------------------

def _finite(x: float | None) -> TypeGuard[float]:
    return x is not None and math.isfinite(x)


def ms(x: float | None) -> str:
    return f"{fmt.fmt_ms(x)} ms" if _finite(x) else "-"


def pct(x: float | None) -> str:
    return f"{x * 100:.2f}%" if _finite(x) else "-"


def rps(x: float | None) -> str:
    return f"{x:.2f}" if _finite(x) else "-"


def age(now: float, ts: float | None) -> str:
    """How long ago, as kubectl's AGE column says it."""
    if not _finite(ts):
        return "-"
    return human_duration(timedelta(seconds=max(0.0, now - ts)))


_Q_COLUMNS = {q: output.Column(q.upper(), numeric=True, wide=q not in ("p50", "p99"))
              for q in _QS}


def services_table(data: Obj, wide: bool = False) -> output.Fitted:
    cols = (output.Column("NAMESPACE"), output.Column("SERVICE"), output.Column("VERSIONS"),
            output.Column("REQUESTS", numeric=True, wide=True),
            output.Column("REQ/S", numeric=True), output.Column("ERRORS", numeric=True),
            *(_Q_COLUMNS[q] for q in _QS if q != "p75"))
    rows = [(s["namespace"], s["service"], ", ".join(s["versions"]), str(s["requests"]),
             rps(s["rps"]), pct(s["error_rate"]), *(ms(s.get(q)) for q in _QS if q != "p75"))
            for s in data.get("items", [])]
    return output.table(cols, rows, wide=wide,
                        title=f"services, {_window(data.get('since_seconds'))}")


def versions_table(data: Obj, now: float, wide: bool = False) -> RenderableType:
    """One row per revision, newest first, named by its label (its version, or
    `<version>@<revision>` when revisions share it); AGE and LAST SEEN are durations before
    `now` (epoch seconds). The requests no pod answered follow the table: errors, not a
    version."""
    cols = (output.Column("VERSION", min_width=14), output.Column("AGE", numeric=True),
            output.Column("LAST SEEN", numeric=True),
            output.Column("REQUESTS", numeric=True, wide=True),
            output.Column("REQ/S", numeric=True), output.Column("ERRORS", numeric=True),
            *(_Q_COLUMNS[q] for q in _QS), output.Column("NEW ERROR TYPES"))
    rows = []
    for v in reversed(data.get("items", [])):
        new = "\n".join(f"{e['type']} ({e['count']})" for e in v["new_error_types"]) or "-"
        rows.append((v["version"], age(now, v["first_seen"]), age(now, v["last_seen"]),
                     str(v["requests"]), rps(v["rps"]), pct(v["error_rate"]),
                     *(ms(v.get(q)) for q in _QS),
                     Text(new, style="red" if v["new_error_types"] else "")))
    table = output.table(cols, rows, wide=wide,
                         title=f"{data['service']} in {data['namespace']}, "
                               f"{_window(data.get('since_seconds'))}")
    lost = data.get("no_upstream")
    if not lost:
        return table
    return output.sections(table, no_upstream_line(lost))


def no_upstream_line(lost: Obj) -> Text:
    """`no upstream: 2 requests no pod answered (503 UH GET /ads ×2)`."""
    types = ", ".join(f"{t['type']} \u00d7{t['count']}" for t in lost.get("error_types", []))
    return Text(f"no upstream: {lost['requests']} requests no pod answered"
                + (f" ({types})" if types else ""), style="red" if lost.get("errors") else "")


_UNITS: dict[str, tuple[Callable[[float], str], str]] = {
    "ms": (fmt.fmt_ms, " ms"), "rate": (fmt.fmt_points, " pts"),
    "count": (lambda x: f"{x:.0f}", ""), "": (lambda x: f"{x:.2f}", ""),
}


def _change_cell(ch: Obj, unit: str) -> Text:
    """The absolute change, and the relative one where a ratio means something."""
    d, b, c = ch.get("change"), ch.get("baseline"), ch.get("candidate")
    if not _finite(d):
        return Text("-")
    number, suffix = _UNITS[unit]
    s = fmt.signed(number, d) + suffix
    rel = fmt.fmt_relative(b, c) if d else ""
    if rel:
        s += f" ({rel})"
    worse = d > 0 and unit in ("ms", "rate") and (not b or abs(d / b) >= 0.05)
    return Text(s, style="red" if worse else "")


def _arm(version: object, role: str) -> str:
    """A version's column header: its name, or its role where the name would widen the table."""
    name = str(version)
    return name if len(name) <= 12 else role


def compare_view(data: Obj, wide: bool = False) -> Group:
    b, c = data["baseline"], data["candidate"]
    arms = (_arm(b["version"], "BASELINE"), _arm(c["version"], "CANDIDATE"))
    ch = data["changes"]
    cis = {q["name"]: q["ci"] for q in (data.get("latency") or {}).get("quantiles", [])}
    err = data.get("errors")
    rows: list[tuple[Cell, ...]] = [
        ("requests", str(b["requests"]), str(c["requests"]),
         _change_cell(ch["requests"], "count"), ""),
        ("req/s", rps(b["rps"]), rps(c["rps"]), _change_cell(ch["rps"], ""), ""),
        ("error rate", pct(b["error_rate"]), pct(c["error_rate"]),
         _change_cell(ch["error_rate"], "rate"),
         _ci(err["ci"], fmt.fmt_points, "pts") if err else ""),
        *((q, ms(b[q]), ms(c[q]), _change_cell(ch[q], "ms"),
           _ci(cis[q], fmt.fmt_ms, "ms") if q in cis else "") for q in _QS)]
    cols = (output.Column("METRIC"), output.Column(arms[0], numeric=True),
            output.Column(arms[1], numeric=True), output.Column("CHANGE", numeric=True),
            output.Column(f"{data.get('level', 0.95) * 100:g}% CI", numeric=True))
    title = (f"{data['service']} in {data['namespace']}: {b['version']} (baseline) vs "
             f"{c['version']} (candidate), {_window(data.get('since_seconds'))}")
    parts: list[RenderableType] = [output.table(cols, rows, wide=wide, title=title)]
    et = data.get("error_types") or {}
    if any(et.get(k) for k in ("only_baseline", "only_candidate", "both")):
        types: list[tuple[Cell, ...]] = [
            *((Text(f"{x['type']} (new)", style="red"), "0", str(x["count"]))
              for x in et.get("only_candidate", [])),
            *((x["type"], str(x["baseline"]), str(x["candidate"])) for x in et.get("both", [])),
            *((x["type"], str(x["count"]), "0") for x in et.get("only_baseline", []))]
        parts.append(output.table((output.Column("ERROR TYPE"),
                                   output.Column(arms[0], numeric=True),
                                   output.Column(arms[1], numeric=True)),
                                  types, wide=wide, title="error types"))
    if data.get("endpoints"):
        parts.append(_endpoints_table(data["endpoints"], wide))
    statements = [Text(s, style="bold red" if (" slower" in s or "more errors" in s)
                       else "bold") for s in data.get("statements", [])]
    if statements:
        parts.append(Group(*statements))
    return output.sections(*parts)


def _ci(ci: list[float | None], number: Callable[[float], str], unit: str) -> str:
    return fmt.fmt_interval(ci[0], ci[1], number, unit)


def _arrow(x: str, y: str, unit: str = "") -> str:
    return f"{x} \u2192 {y}{unit}"


def _endpoints_table(endpoints: list[Obj], wide: bool) -> output.Fitted:
    cols = (output.Column("ENDPOINT"), output.Column("REQUESTS", numeric=True),
            output.Column("ERRORS", numeric=True, wide=True),
            output.Column("P50", numeric=True), output.Column("CHANGE", numeric=True))
    rows = []
    for row in endpoints:
        x, y = row["baseline"] or {}, row["candidate"] or {}
        p50 = [fmt.fmt_ms(v) if _finite(v) else "-" for v in (x.get("p50"), y.get("p50"))]
        rows.append((f"{row['method']} {row['endpoint']}".strip(),
                     _arrow(str(x.get("requests", 0)), str(y.get("requests", 0))),
                     _arrow(pct(x.get("error_rate")), pct(y.get("error_rate"))),
                     _arrow(p50[0], p50[1], " ms"), _change_cell(row["p50"], "ms")))
    return output.table(cols, rows, wide=wide, title="endpoints, by p50 change")


def _window(seconds: float | None) -> str:
    if not seconds:
        return "all retained"
    s = int(seconds)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n and s % n == 0:
            return f"last {s // n}{unit}"
    return f"last {s}s"
