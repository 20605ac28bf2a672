"""Control-plane figures: start-up time, memory, and kubectl latency on the lab's manifests.

Run: `.venv/bin/python bench/control_plane.py [--runs N]`. Each figure is printed beside a baseline
measured in the same run: kubectl's own floor (`kubectl version --client`, a process that talks to
no server), and, for start-up and memory, the published figures for kind and k3s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    manifests = (LAB if LAB.exists() else EXAMPLES) / "ecommerce-v1"
    starts: list[float] = []
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        turnout = [str(Path(sys.executable).parent / "turnout")]
        for i in range(3):
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
            if i < 2:
                subprocess.run([*turnout, "--state-dir", str(state), "down"], check=True,
                               capture_output=True)
        pid = int(json.loads((state / "server.json").read_text())["pid"])
        time.sleep(2)  # idle: controllers settled
        env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"),
               "KUBECACHEDIR": str(Path(tmp) / "cache")}
        idle_mb = tree_rss_mb(pid)
        floor = [timed([KUBECTL, "version", "--client"], env) for _ in range(args.runs)]
        subprocess.run([KUBECTL, "create", "namespace", "ns1"], env=env, check=True,
                       capture_output=True)
        apply_ms = [timed([KUBECTL, "apply", "-f", str(manifests) + "/"], env)
                    for _ in range(args.runs)]
        time.sleep(2)
        get_ms = [timed([KUBECTL, "get", "pods", "-A"], env) for _ in range(args.runs)]
        loaded_mb = tree_rss_mb(pid)
        api_mb = rss_mb(pid)
        subprocess.run([*turnout, "--state-dir", str(state), "down"], check=True,
                       capture_output=True)

    med = statistics.median
    fl = med(floor)
    rows += [
        ("`turnout up --detach`, new cluster, to /version (median of 3)",
         f"{med(starts):.2f} s",
         "kind 12-17 s (published)", f"{14.5 / med(starts):.0f}x faster than kind"),
        ("memory, idle (API + controllers + Envoy)", f"{idle_mb:.0f} MB", "k3s ~1600 MB",
         f"{1600 / idle_mb:.0f}x less"),
        ("memory with the lab's ecommerce-v1 applied", f"{loaded_mb:.0f} MB "
         f"(API process {api_mb:.0f} MB)", "k3s ~1600 MB", f"{1600 / loaded_mb:.0f}x less"),
        ("kubectl get pods -A (median)", f"{med(get_ms):.0f} ms",
         f"kubectl floor {fl:.0f} ms", f"{med(get_ms) / fl:.2f}x the floor"),
        (f"kubectl apply -f {manifests.name}/ (7 objects, median)", f"{med(apply_ms):.0f} ms",
         f"kubectl floor {fl:.0f} ms", f"{med(apply_ms) / fl:.2f}x the floor"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "turnout", "baseline", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    if shutil.which("nproc"):
        print(f"\nmachine: {os.cpu_count()} cores; runs={args.runs}")


if __name__ == "__main__":
    main()
