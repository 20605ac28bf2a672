"""Control-plane figures: start-up time, memory, and kubectl latency on the lab's manifests.

Run: `.venv/bin/python bench/control_plane.py [--runs N] [--starts N]`. Each figure is printed
beside a baseline: kubectl's own floor (`kubectl version --client`, a process that talks to no
server) measured in the same run, interleaved with the timed command so both meet the same
background load; for start-up and memory, the *published* figures for kind and k3s (labelled so).
Every figure carries its spread over the rounds: median (min–max).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stats import load_average, spread

REPO = Path(__file__).resolve().parent.parent
LAB = REPO.parent / "shared" / "lab" / "manifest-files"
EXAMPLES = REPO / "turnout" / "examples" / "lab" / "manifest-files"
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its children (Envoy is one of turnout's children)."""
    total = rss_mb(pid)
    for child in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(Path(child / "stat").read_text().split(")")[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            total += tree_rss_mb(int(child.name))
    return total


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10, help="kubectl commands timed per figure")
    ap.add_argument("--starts", type=int, default=5, help="new clusters started")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average before: {load_average()}; command: "
          f".venv/bin/python bench/control_plane.py {' '.join(sys.argv[1:])}".rstrip())
    manifests = (LAB if LAB.exists() else EXAMPLES) / "ecommerce-v1"
    objects = len(list(manifests.glob("*.yaml")))
    starts: list[float] = []
    idle: list[float] = []
    with tempfile.TemporaryDirectory(prefix="turnout-bench-cp-") as tmp:
        turnout = [str(Path(sys.executable).parent / "turnout")]
        for i in range(args.starts):
            # the user's command on a new state dir: `turnout up --detach` returns once /version
            # answers (first start: CA and keys are made too)
            state = Path(tmp) / f"s{i}"
            t0 = time.perf_counter()
            subprocess.run([*turnout, "--state-dir", str(state), "up", "--detach",
                            "--auto-ports"], check=True, capture_output=True, cwd=tmp)
            starts.append(time.perf_counter() - t0)
            port = int(json.loads((state / "cluster.json").read_text())["api_port"])
            ctx = ssl.create_default_context(cafile=str(state / "ca.crt"))
            urllib.request.urlopen(f"https://127.0.0.1:{port}/version", timeout=1, context=ctx)
            pid = int(json.loads((state / "server.json").read_text())["pid"])
            time.sleep(2)  # idle: controllers settled
            idle.append(tree_rss_mb(pid))
            if i < args.starts - 1:
                subprocess.run([*turnout, "--state-dir", str(state), "down"], check=True,
                               capture_output=True)
        env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"),
               "KUBECACHEDIR": str(Path(tmp) / "cache")}
        try:
            subprocess.run([KUBECTL, "create", "namespace", "ns1"], env=env, check=True,
                           capture_output=True)
            floor: list[float] = []
            apply_ms: list[float] = []
            for _ in range(args.runs):  # interleaved: each pair meets the same background load
                floor.append(timed([KUBECTL, "version", "--client"], env))
                apply_ms.append(timed([KUBECTL, "apply", "-f", str(manifests) + "/"], env))
            time.sleep(2)
            get_ms: list[float] = []
            for _ in range(args.runs):
                floor.append(timed([KUBECTL, "version", "--client"], env))
                get_ms.append(timed([KUBECTL, "get", "pods", "-A"], env))
            loaded: list[float] = []
            api: list[float] = []
            for _ in range(3):
                loaded.append(tree_rss_mb(pid))
                api.append(rss_mb(pid))
                time.sleep(1)
        finally:
            subprocess.run([*turnout, "--state-dir", str(state), "down"], check=True,
                           capture_output=True)

    med = statistics.median
    n = args.runs
    apply_ratio = [a / f for a, f in zip(apply_ms, floor[:n], strict=True)]
    get_ratio = [g / f for g, f in zip(get_ms, floor[n:], strict=True)]
    rows = [
        (f"`turnout up --detach`, new cluster, to /version ({args.starts} starts)",
         spread(starts, unit=" s"), "kind 12-17 s (published, not measured here)",
         f"{14.5 / med(starts):.0f}x faster than kind "
         f"({12 / max(starts):.0f}-{17 / min(starts):.0f}x)"),
        ("memory, idle (API + controllers + telemetry + dashboard + Envoy)",
         spread(idle, "{:.0f}", " MB"), "k3s ~1600 MB (published)",
         f"{1600 / med(idle):.0f}x less"),
        (f"memory with the lab's {manifests.name} applied (3 samples)",
         f"{spread(loaded, '{:.0f}', ' MB')}; API process {med(api):.0f} MB",
         "k3s ~1600 MB (published)", f"{1600 / med(loaded):.0f}x less"),
        ("kubectl get pods -A", spread(get_ms, "{:.0f}", " ms"),
         f"kubectl floor {spread(floor[n:], '{:.0f}', ' ms')}",
         f"{spread(get_ratio, unit='x')} the floor"),
        (f"kubectl apply -f {manifests.name}/ ({objects} files)",
         spread(apply_ms, "{:.0f}", " ms"), f"kubectl floor {spread(floor[:n], '{:.0f}', ' ms')}",
         f"{spread(apply_ratio, unit='x')} the floor"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "turnout", "baseline", "ratio (per run: median, min-max)")
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    print(f"\nmachine: {os.cpu_count()} cores; runs={args.runs}; starts={args.starts}; "
          f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
