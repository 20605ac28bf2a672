"""`turnout services|versions|compare`: the per-version telemetry of the running cluster.

Thin shell: each command asks the cluster's JSON API (`/turnout/v1/telemetry/...`) and prints a
Rich table (or the JSON with `-o json`).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from turnout.cli import client, cluster_cmds
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
        p.add_argument("-o", "--output", choices=("table", "json"), default="table")

    s = sub.add_parser("services", help="services seen by the mesh, with their versions")
    common(s, "1h")
    s.set_defaults(func=cmd_services)
    v = sub.add_parser("versions", help="a service's versions: traffic, errors, latency, "
                       "new error types")
    v.add_argument("service")
    v.add_argument("-n", "--namespace", default="default")
    common(v, None)
    v.set_defaults(func=cmd_versions)
    c = sub.add_parser("compare", help="two versions of a service side by side")
    c.add_argument("service")
    c.add_argument("-n", "--namespace", default="default")
    c.add_argument("--baseline", help="version to compare against (default: the one before "
                   "the candidate)")
    c.add_argument("--candidate", help="version under test (default: the most recent)")
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


def _emit(args: argparse.Namespace, data: Obj, table: RenderableType) -> int:
    if args.output == "json":
        out.print_json(json.dumps(data))
    else:
        out.print(table)
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    data = fetch(args, "services", {"since": args.since})
    return 1 if data is None else _emit(args, data, services_table(data))


def cmd_versions(args: argparse.Namespace) -> int:
    path = f"services/{_q(args.namespace)}/{_q(args.service)}/versions"
    data = fetch(args, path, {"since": args.since})
    return 1 if data is None else _emit(args, data, versions_table(data))


def cmd_compare(args: argparse.Namespace) -> int:
    path = f"services/{_q(args.namespace)}/{_q(args.service)}/compare"
    data = fetch(args, path, {"since": args.since, "baseline": args.baseline,
                              "candidate": args.candidate})
    return 1 if data is None else _emit(args, data, compare_view(data))


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


# -- rendering (pure: JSON in, Rich renderables out) --------------------------------------------

def ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f} ms" if abs(x) >= 100 else f"{x:.1f} ms"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def services_table(data: Obj) -> Table:
    t = Table(title=f"services (last {_window(data.get('since_seconds'))})")
    for col in ("NAMESPACE", "SERVICE", "VERSIONS", "REQUESTS", "REQ/S", "ERRORS", "P50",
                "P99"):
        t.add_column(col, justify="right" if col not in ("NAMESPACE", "SERVICE", "VERSIONS")
                     else "left")
    for s in data.get("items", []):
        t.add_row(s["namespace"], s["service"], ", ".join(s["versions"]), str(s["requests"]),
                  f"{s['rps']:.2f}", pct(s["error_rate"]), ms(s["p50"]), ms(s["p99"]))
    return t


def versions_table(data: Obj) -> Table:
    t = Table(title=f"{data['service']} in {data['namespace']} "
                    f"(last {_window(data.get('since_seconds'))})")
    for col in ("VERSION", "FIRST SEEN", "LAST SEEN", "NEW ERROR TYPES", "REQUESTS", "REQ/S",
                "ERRORS", *(q.upper() for q in _QS)):
        t.add_column(col, justify="left" if col in ("VERSION", "FIRST SEEN", "LAST SEEN",
                                                    "NEW ERROR TYPES") else "right")
    for v in reversed(data.get("items", [])):
        new = "\n".join(f"{e['type']} ({e['count']})" for e in v["new_error_types"]) or "-"
        t.add_row(v["version"], when(v["first_seen"]), when(v["last_seen"]),
                  Text(new, style="red" if v["new_error_types"] else ""),
                  str(v["requests"]), f"{v['rps']:.2f}", pct(v["error_rate"]),
                  *(ms(v[q]) for q in _QS))
    return t


def _change_cell(ch: Obj, unit: str) -> Text:
    if ch.get("change") is None:
        return Text("-")
    d, p = ch["change"], ch.get("change_pct")
    if unit == "ms":
        s = f"{d:+.1f} ms"
    elif unit == "rate":
        s = f"{d * 100:+.2f} pts"
    elif unit == "count":
        s = f"{d:+.0f}"
    else:
        s = f"{d:+.2f}"
    if p is not None:
        s += f" ({p:+.1f}%)"
    worse = d > 0 and unit in ("ms", "rate")
    return Text(s, style="red" if worse and (p is None or abs(p) >= 5) else "")


def compare_view(data: Obj) -> Group:
    b, c = data["baseline"], data["candidate"]
    t = Table(title=f"{data['service']} in {data['namespace']}: {b['version']} (baseline) vs "
                    f"{c['version']} (candidate), last {_window(data.get('since_seconds'))}")
    t.add_column("METRIC")
    t.add_column(str(b["version"]), justify="right")
    t.add_column(str(c["version"]), justify="right")
    t.add_column("CHANGE", justify="right")
    t.add_column(f"{data.get('level', 0.95) * 100:g}% CI OF DIFFERENCE", justify="right")
    ch = data["changes"]
    cis = {q["name"]: q["ci"] for q in (data.get("latency") or {}).get("quantiles", [])}
    t.add_row("requests", str(b["requests"]), str(c["requests"]),
              _change_cell(ch["requests"], "count"), "")
    t.add_row("req/s", f"{b['rps']:.2f}", f"{c['rps']:.2f}", _change_cell(ch["rps"], ""), "")
    err = data.get("errors")
    t.add_row("error rate", pct(b["error_rate"]), pct(c["error_rate"]),
              _change_cell(ch["error_rate"], "rate"),
              _ci(err["ci"], "pts", 100) if err else "")
    for q in _QS:
        t.add_row(q, ms(b[q]), ms(c[q]), _change_cell(ch[q], "ms"),
                  _ci(cis[q], "ms") if q in cis else "")
    parts: list[RenderableType] = [t]
    et = data.get("error_types") or {}
    if any(et.get(k) for k in ("only_baseline", "only_candidate", "both")):
        e = Table(title="error types")
        e.add_column("ERROR TYPE")
        e.add_column(str(b["version"]), justify="right")
        e.add_column(str(c["version"]), justify="right")
        for x in et.get("only_candidate", []):
            e.add_row(Text(f"{x['type']} (new)", style="red"), "0", str(x["count"]))
        for x in et.get("both", []):
            e.add_row(x["type"], str(x["baseline"]), str(x["candidate"]))
        for x in et.get("only_baseline", []):
            e.add_row(x["type"], str(x["count"]), "0")
        parts.append(e)
    if data.get("endpoints"):
        ep = Table(title="endpoints (by latency change)")
        for col in ("ENDPOINT", "REQUESTS", "ERRORS", "P50", "P50 CHANGE"):
            ep.add_column(col, justify="left" if col == "ENDPOINT" else "right")
        for row in data["endpoints"]:
            x, y = row["baseline"] or {}, row["candidate"] or {}
            ep.add_row(f"{row['method']} {row['endpoint']}".strip(),
                       f"{x.get('requests', 0)} → {y.get('requests', 0)}",
                       f"{pct(x.get('error_rate'))} → {pct(y.get('error_rate'))}",
                       f"{ms(x.get('p50'))} → {ms(y.get('p50'))}",
                       _change_cell(row["p50"], "ms"))
        parts.append(ep)
    for s in data.get("statements", []):
        style = "bold red" if (" slower" in s or "more errors" in s) else "bold"
        parts.append(Text(s, style=style))
    return Group(*parts)


def _ci(ci: list[float | None], unit: str, scale: float = 1.0) -> str:
    lo, hi = ci
    low = "-\u221e" if lo is None else f"{lo * scale:+.1f}"
    high = "\u221e" if hi is None else f"{hi * scale:+.1f}"
    return f"{low} to {high} {unit}"


def _window(seconds: float | None) -> str:
    if not seconds:
        return "all retained"
    s = int(seconds)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n and s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"
