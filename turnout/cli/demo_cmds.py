"""`turnout demo` (the lab scenario, unattended) and `turnout load` (bounded storefront traffic)."""

from __future__ import annotations

import argparse
import functools
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from turnout.cli import cluster_cmds
from turnout.cluster import registry
from turnout.cluster.state import StateDir, default_dir
from turnout.demo import load
from turnout.demo.scenario import Scenario

console = Console()
VIA = {"nodeport": 30001, "gateway": 30003, "ingress": 32000}


def register(sub: Any) -> None:
    d = sub.add_parser(
        "demo", help="play the progressive-delivery lab end to end",
        description="Plays the lab of the seeds on a fresh cluster in ~/.turnout/demo (wiped "
        "first) and checks every figure it observes. The cluster takes free ports of its own "
        "when another cluster holds the defaults, prints its URLs, and is LEFT RUNNING so you "
        "can look around; `--down` stops it at the end, `turnout --state-dir ~/.turnout/demo "
        "down` later.")
    d.add_argument("--quick", action="store_true", help="fewer requests per check (CI)")
    d.add_argument("--down", action="store_true", help="stop the demo cluster at the end")
    d.add_argument("--manifests", help="a directory laid out like the lab's manifest-files "
                   "(default: the copy shipped with turnout)")
    d.set_defaults(func=cmd_demo)
    lo = sub.add_parser("load", help="send bounded storefront traffic, with a progress bar")
    lo.add_argument("--url", help="storefront base URL (default: see --via)")
    lo.add_argument("--via", choices=tuple(VIA), default="nodeport",
                    help="without --url: the cluster's NodePort 30001 (the lab's storefront), "
                    "its Istio gateway (30003) or its NGINX ingress (32000), as its port set "
                    "serves them (default: nodeport)")
    lo.add_argument("-n", "--requests", type=int, default=200, help="page loads (default 200)")
    lo.add_argument("-c", "--concurrency", type=int, default=4,
                    help="page loads in flight at once (default 4)")
    lo.add_argument("--rps", type=float, help="target request rate (default: as fast as "
                    "the concurrency allows)")
    lo.add_argument("--products", type=float, default=0.5,
                    help="share of product pages, 0..1 (default 0.5)")
    lo.add_argument("--max-seconds", type=float, default=300.0,
                    help="stop after this long even if not all page loads were sent "
                    "(default 300)")
    lo.set_defaults(func=cmd_load)


def demo_state(args: argparse.Namespace) -> StateDir:
    if args.state_dir:
        return StateDir.resolve(args.state_dir)
    return StateDir.resolve(default_dir().parent / "demo")


def cmd_demo(args: argparse.Namespace) -> int:
    state = demo_state(args)
    manifests = Path(args.manifests) if args.manifests else \
        Path(str(resources.files("turnout") / "examples" / "lab" / "manifest-files"))
    if not (manifests / "ecommerce-v1").is_dir():
        raise SystemExit(f"{manifests}: not a lab manifest directory (no ecommerce-v1/)")
    console.print(f"[bold]turnout demo[/]: a fresh cluster in {state.root}")
    if cluster_cmds.running(state):
        ns = argparse.Namespace(state_dir=str(state.root), state_dir_cmd=None)
        cluster_cmds.cmd_down(ns)
    shutil.rmtree(state.root, ignore_errors=True)
    t0 = time.monotonic()
    with registry.StartLock():  # no other cluster chooses the same free ports meanwhile
        cfg = cluster_cmds.prepare(state, auto=True)
        if cfg is None or cluster_cmds._up_detached(state, cfg) != 0:
            return 1
    live = cluster_cmds.running(state)
    if live is None:
        raise SystemExit("the demo cluster did not come up")
    scenario = Scenario(state=state, port=live[1], manifests=manifests,
                        kubectl_bin=cluster_cmds.kubectl_path(), console=console,
                        quick=args.quick, node_url=cfg.node_url)
    try:
        ok = scenario.run()
    except KeyboardInterrupt:  # Ctrl-C: the demo's cluster goes with it, and no traceback
        console.print("\n[yellow]interrupted[/]: stopping the demo cluster")
        cluster_cmds.cmd_down(argparse.Namespace(state_dir=str(state.root), state_dir_cmd=None))
        return 130
    console.print(f"\nplayed in {time.monotonic() - t0:.0f} s. Open:")
    # the lab deletes ns1 and ns2 in its step 9: ns3 behind the Istio gateway is what is left
    # (soft_wrap: a command is never broken in the middle, so it can be copied)
    say = functools.partial(console.print, soft_wrap=True)
    say(f"  storefront (ns3, Istio gateway, NodePort 30003)  {cfg.node_url(30003)}/")
    say(f"  dashboard: turnout --state-dir {state.root} dashboard")
    say(f"  kubectl:  export KUBECONFIG={state.kubeconfig}")
    say(f"  compare:  turnout --state-dir {state.root} compare advertisements -n ns3")
    if args.down:
        cluster_cmds.cmd_down(argparse.Namespace(state_dir=str(state.root), state_dir_cmd=None))
    else:
        say(f"  stop it:  turnout --state-dir {state.root} down")
    if not ok:
        console.print("[red]some expected outcomes were not observed[/]")
    return 0 if ok else 1


def cmd_load(args: argparse.Namespace) -> int:
    if args.requests <= 0 or args.concurrency <= 0 or not 0 <= args.products <= 1:
        raise SystemExit("--requests and --concurrency must be positive; --products in 0..1")
    if not args.url:
        from turnout.cli.status_cmds import settings_of

        args.url = settings_of(StateDir.resolve(args.state_dir)).node_url(VIA[args.via])
    with Progress(TextColumn("[bold]load[/] {task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(args.url, total=args.requests)
        tally = load.run(args.url, requests=args.requests, concurrency=args.concurrency,
                         products=args.products, rps=args.rps, max_seconds=args.max_seconds,
                         on_result=lambda _status: progress.advance(task))
    table = Table(title=f"{tally.requests} page loads of {args.url}")
    for col in ("what", "count"):
        table.add_column(col)
    for status, count in sorted(tally.statuses.items()):
        table.add_row(f"HTTP {status}" if status else "connection failed", str(count))
    for v, count in sorted(tally.storefront.items()):
        table.add_row(f"storefront {v}", str(count))
    for v, count in sorted(tally.ads.items()):
        table.add_row(f"ad banner {v}", str(count))
    if tally.latencies_ms:
        lat = sorted(tally.latencies_ms)
        table.add_row("p50 / p99 page time", f"{lat[len(lat) // 2]:.0f} / "
                      f"{lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f} ms")
    console.print(table)
    return 0 if tally.requests == args.requests else 1
