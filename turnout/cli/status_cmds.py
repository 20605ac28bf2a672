"""`turnout status` (one cluster's map: where everything is, what runs) and `turnout clusters`.

`build_map` and `cluster_row` gather plain data (the same for tables, JSON and YAML); the
renderers only lay it out, in tables that fit an 80-column terminal.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from turnout.cli import output
from turnout.cli.client import state_of
from turnout.cli.cluster_cmds import running
from turnout.cluster import preflight, registry, settings
from turnout.cluster.settings import ClusterSettings
from turnout.cluster.state import StateDir, default_dir

out = Console()
BUILTIN_NAMESPACES = ("istio-system", "ingress-nginx")


def register(sub: Any) -> None:
    st = sub.add_parser("status", help="is the cluster up, where to reach it, what runs in it")
    st.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    output.add_output_option(st, wide=False)
    st.set_defaults(func=cmd_status)
    cl = sub.add_parser("clusters", help="the turnout clusters on this machine")
    output.add_output_option(cl, wide=False)
    cl.set_defaults(func=cmd_clusters)


def settings_of(state: StateDir) -> ClusterSettings:
    try:
        return settings.load(state.root) or preflight.legacy(state.root)
    except ValueError:
        return preflight.legacy(state.root)


# --- status -------------------------------------------------------------------------------------

def _get(state: StateDir, port: int, path: str) -> Any:
    return json.loads(state.request(port, path))


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def build_map(state: StateDir) -> dict[str, Any]:
    """Everything a user needs to reach the cluster, as plain data."""
    cfg = settings_of(state)
    live = running(state)
    base = f"http://{cfg.node_address}"
    data: dict[str, Any] = {
        "stateDir": str(state.root), "status": "up" if live else "down",
        "pid": live[0] if live else None,
        "api": f"https://{cfg.node_address}:{live[1] if live else cfg.api_port}",
        "kubeconfig": str(state.kubeconfig),
        "dashboard": {"url": f"{base}:{cfg.dashboard_port}/",
                      "tokenCommand": f"{state.cli()} dashboard"},
        "metrics": f"{base}:{cfg.metrics_port}/metrics" if cfg.metrics_port else None,
        "gateway": cfg.node_url(preflight.GATEWAY_NODE_PORT) + "/",
        "ingress": cfg.node_url(preflight.NGINX_NODE_PORT) + "/",
        "portSet": cfg.port_set, "nodePortOffset": cfg.node_port_offset,
        "nodePorts": [], "namespaces": [],
    }
    if not live:
        return data
    port = live[1]
    try:
        counts: dict[str, dict[str, int]] = {}

        def bump(ns: str, k: str) -> None:
            row = counts.setdefault(ns, {"pods": 0, "ready": 0, "services": 0,
                                         "deployments": 0})
            row[k] += 1

        for n in _get(state, port, "/api/v1/namespaces")["items"]:
            counts.setdefault(n["metadata"]["name"],
                              {"pods": 0, "ready": 0, "services": 0, "deployments": 0})
        for p in _get(state, port, "/api/v1/pods")["items"]:
            bump(p["metadata"]["namespace"], "pods")
            if _ready(p):
                bump(p["metadata"]["namespace"], "ready")
        for s in _get(state, port, "/api/v1/services")["items"]:
            meta = s["metadata"]
            bump(meta["namespace"], "services")
            if meta["namespace"] in BUILTIN_NAMESPACES:
                continue  # the gateway and the NGINX ingress are listed above
            for sp in (s.get("spec") or {}).get("ports") or []:
                if isinstance(sp.get("nodePort"), int):
                    data["nodePorts"].append({
                        "namespace": meta["namespace"], "service": meta["name"],
                        "port": sp.get("port"), "nodePort": sp["nodePort"],
                        "url": cfg.node_url(sp["nodePort"])})
        for d in _get(state, port, "/apis/apps/v1/deployments")["items"]:
            bump(d["metadata"]["namespace"], "deployments")
    except (OSError, ValueError, KeyError, urllib.error.HTTPError) as e:
        data["error"] = f"could not list the cluster's objects: {e}"
    data["namespaces"] = [{"name": ns, **c} for ns, c in sorted(counts.items())]
    return data


def render_map(data: dict[str, Any], console: Console) -> None:
    if data["status"] != "up":
        console.print(f"turnout is down (state dir {data['stateDir']})", highlight=False)
        return
    console.print(f"[green]turnout is up[/] (pid {data['pid']}), state dir {data['stateDir']}",
                  highlight=False)
    where = Table(show_header=False, box=None, pad_edge=False)
    where.add_column(style="bold")
    where.add_column(overflow="fold")
    where.add_row("API", data["api"])
    where.add_row("kubeconfig", data["kubeconfig"])
    where.add_row("dashboard", f"{data['dashboard']['url']}  (with your token: "
                               f"`{data['dashboard']['tokenCommand']}`)")
    where.add_row("metrics", data["metrics"] or "off")
    where.add_row("gateway", f"{data['gateway']}  (istio-ingressgateway, NodePort 30003)")
    where.add_row("ingress", f"{data['ingress']}  (ingress-nginx, NodePort 32000)")
    console.print(where)
    if data["nodePorts"]:
        console.print()
        console.print(output.table(
            [output.Column("NAMESPACE"), output.Column("SERVICE"),
             output.Column("NODEPORT", numeric=True), output.Column("URL")],
            ([r["namespace"], r["service"], str(r["nodePort"]), r["url"]]
             for r in data["nodePorts"])))
    console.print()
    console.print(output.table(
        [output.Column("NAMESPACE"), *(output.Column(h, numeric=True)
                                       for h in ("PODS", "READY", "SVC", "DEPLOY"))],
        ([r["name"], str(r["pods"]), str(r["ready"]), str(r["services"]), str(r["deployments"])]
         for r in data["namespaces"])))
    if data.get("error"):
        console.print(f"[red]{data['error']}[/]", highlight=False)


def cmd_status(args: argparse.Namespace) -> int:
    state = state_of(args)
    if not state.root.is_dir():
        if args.output == "table":
            out.print(f"no turnout cluster in {state.root}: `{state.cli()} up` creates one",
                      highlight=False)
        else:
            output.dump(out, args.output, {"stateDir": str(state.root), "status": "absent"})
        return 3
    data = build_map(state)
    if args.output == "table":
        render_map(data, out)
    else:
        output.dump(out, args.output, data)
    return 0 if data["status"] == "up" else 3


# --- clusters -----------------------------------------------------------------------------------

def cluster_row(root: Path) -> dict[str, Any]:
    state = StateDir(root)
    cfg = settings_of(state)
    live = running(state)
    return {"stateDir": str(root), "status": "up" if live else "down",
            "pid": live[0] if live else None, "portSet": cfg.port_set,
            "api": f"https://{cfg.node_address}:{cfg.api_port}",
            "dashboard": f"http://{cfg.node_address}:{cfg.dashboard_port}/",
            "nodePortOffset": cfg.node_port_offset,
            "nodePortExample": {"nodePort": 30001, "url": cfg.node_url(30001) + "/"}}


def all_clusters() -> list[dict[str, Any]]:
    roots = registry.known()
    default = default_dir()
    if default.is_dir() and default not in roots:
        roots.insert(0, default)
    return [cluster_row(r) for r in roots]


def cmd_clusters(args: argparse.Namespace) -> int:
    rows = all_clusters()
    if args.output == "table" and not rows:
        out.print("no turnout cluster on this machine yet: `turnout up`")
        return 0
    columns = [output.Column("STATUS"), output.Column("SET", numeric=True),
               output.Column("API"), output.Column("NODEPORT 30001 AT"),
               output.Column("STATE DIR")]
    output.emit(out, args.output, rows, lambda wide: output.table(columns, (
        [r["status"], str(r["portSet"]), r["api"].removeprefix("https://"),
         r["nodePortExample"]["url"].removeprefix("http://"), r["stateDir"]] for r in rows)))
    return 0
