"""`turnout analyze` and `turnout explain`: the mesh's view of the cluster, without Envoy.

Both fetch the objects the data plane is built from and run the mesh's pure analyzers on them,
so what they say is what Envoy was told. `analyze -o json|yaml` prints the findings as a
`FindingList` for scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from turnout.cli import output
from turnout.cli.client import get, state_of
from turnout.cluster.state import StateDir
from turnout.mesh import analyze as mesh_analyze
from turnout.mesh import explain as mesh_explain
from turnout.mesh import snapshot as sn

out = Console()

SOURCES = {
    "namespaces": "/api/v1/namespaces",
    "services": "/api/v1/services",
    "pods": "/api/v1/pods",
    "virtual_services": "/apis/networking.istio.io/v1/virtualservices",
    "destination_rules": "/apis/networking.istio.io/v1/destinationrules",
    "gateways": "/apis/networking.istio.io/v1/gateways",
    "service_entries": "/apis/networking.istio.io/v1/serviceentries",
    "ingresses": "/apis/networking.k8s.io/v1/ingresses",
}


def register(sub: Any) -> None:
    a = sub.add_parser("analyze", help="istioctl-analyze-style findings for the mesh config")
    a.add_argument("-n", "--namespace", help="only this namespace (default: all)")
    a.add_argument("-A", "--all-namespaces", action="store_true", help="all namespaces")
    output.add_output_option(a)
    a.set_defaults(func=cmd_analyze)
    e = sub.add_parser("explain", help="which rule a request matches and where it can land")
    e.add_argument("url", help="e.g. http://advertisements:5002/ads")
    e.add_argument("-n", "--namespace", required=True, help="namespace of the calling pod")
    e.add_argument("--from", dest="from_pod", help="calling pod (default: any pod in -n)")
    e.add_argument("-H", "--header", action="append", default=[], metavar="'K: V'",
                   help="request header, repeatable")
    e.add_argument("-X", "--method", default="GET", help="request method (default: GET)")
    e.set_defaults(func=cmd_explain)


def snapshot(state: StateDir) -> sn.Snapshot:
    parts: dict[str, tuple[Any, ...]] = {}
    for field, path in SOURCES.items():
        items = get(state, path)["items"]
        kind = {"namespaces": "Namespace", "services": "Service", "pods": "Pod",
                "ingresses": "Ingress"}.get(field)
        for i in items:  # typed lists carry no per-item kind
            if kind:
                i.setdefault("kind", kind)
        parts[field] = tuple(items)
    parts["pods"] = tuple(p for p in parts["pods"] if p.get("status", {}).get("podIP"))
    return sn.from_objects(obj for objs in parts.values() for obj in objs)


def cmd_analyze(args: argparse.Namespace) -> int:
    findings = mesh_analyze.analyze(snapshot(state_of(args)))
    if args.namespace and not args.all_namespaces:
        findings = [f for f in findings if f.namespace == args.namespace or
                    (f.kind == "Namespace" and f.name == args.namespace) or
                    (not f.namespace and f.kind != "Namespace")]
    if findings or args.output in output.DATA_FORMATS:
        data = {"kind": "FindingList", "items": [dataclasses.asdict(f) for f in findings]}
        output.emit(out, args.output, data, lambda wide: findings_table(findings, wide))
    else:
        scope = f"namespace {args.namespace}" if args.namespace else "all namespaces"
        out.print(f"[green]✔ No validation issues found when analyzing {scope}.[/]")
    return 1 if any(f.level == "Error" for f in findings) else 0


def findings_table(findings: Sequence[mesh_analyze.Finding], wide: bool = False) -> output.Fitted:
    """istioctl analyze's findings; the field has its own column with `-o wide`."""
    cols = (output.Column("LEVEL"), output.Column("CODE"), output.Column("RESOURCE"),
            output.Column("FIELD", wide=True), output.Column("MESSAGE"))
    rows = []
    for f in findings:
        where = f"{f.kind} {f.namespace}/{f.name}" if f.namespace else f"{f.kind} {f.name}"
        style = {"Error": "red", "Warning": "yellow"}.get(f.level, "")
        message = f.message + (f" ({f.field})" if f.field and not wide else "")
        rows.append((Text(f.level, style=style), f.code, where, f.field or "-", message))
    return output.table(cols, rows, wide=wide)


def _headers(raw: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for h in raw:
        if ":" not in h:
            raise SystemExit(f"bad header {h!r}: expected 'Name: value'")
        k, v = h.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return headers


def cmd_explain(args: argparse.Namespace) -> int:
    snap = snapshot(state_of(args))
    if args.from_pod and not any(p["metadata"]["name"] == args.from_pod and
                                 p["metadata"]["namespace"] == args.namespace
                                 for p in snap.pods):
        raise SystemExit(f'pod "{args.from_pod}" not found (or not running) in namespace '
                         f'"{args.namespace}"')
    result = mesh_explain.explain(snap, args.namespace, args.from_pod, args.url,
                                  _headers(args.header), method=args.method.upper())
    out.print(result.render(), markup=False, highlight=False)
    return 0
