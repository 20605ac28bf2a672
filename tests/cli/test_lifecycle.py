"""`turnout up --detach|status|kubeconfig|kubectl|down`, and state across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.cluster


def turnout(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir", str(state),
                        *args], text=True, capture_output=True, timeout=90,
                       env={**os.environ, "KUBECACHEDIR": str(state.parent / "cache")})
    if check and r.returncode != 0:
        raise AssertionError(f"turnout {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def test_detached_cluster_keeps_objects_and_restarts_pods(tmp_path: Path) -> None:
    state = tmp_path / "state"
    t0 = time.monotonic()
    up = turnout(state, "up", "--detach", "--port", str(free_port()), "--auto-ports")
    elapsed = time.monotonic() - t0
    assert "turnout is up" in up.stderr
    assert elapsed < 10  # the figure itself is measured in bench/control_plane.py
    try:
        kubeconfig = turnout(state, "kubeconfig").stdout.strip()
        assert Path(kubeconfig).exists()
        status = turnout(state, "status")
        assert "turnout is up" in status.stdout and "kube-system" in status.stdout
        manifest = tmp_path / "sleep.yaml"
        manifest.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sleeper\n  namespace: default\n"
            "spec:\n  containers:\n  - name: main\n    image: busybox\n"
            "    command: [sh, -c, 'echo started; sleep 3600']\n")
        turnout(state, "kubectl", "apply", "-f", str(manifest))

        def phase() -> tuple[str, str]:
            pod = json.loads(turnout(state, "kubectl", "get", "pod", "sleeper", "-o",
                                     "json").stdout)
            cs = (pod["status"].get("containerStatuses") or [{}])[0]
            return pod["status"].get("phase", ""), str(cs.get("containerID", ""))

        deadline = time.monotonic() + 30
        while phase()[0] != "Running" and time.monotonic() < deadline:
            time.sleep(0.2)
        first_phase, first_cid = phase()
        assert first_phase == "Running"
        assert "turnout is down" in turnout(state, "down").stderr
        assert turnout(state, "status", check=False).returncode == 3
        turnout(state, "up", "--detach")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            p, cid = phase()
            if p == "Running" and cid and cid != first_cid:
                break
            time.sleep(0.2)
        p, cid = phase()
        assert p == "Running" and cid != first_cid  # the same object, a new process
        logs = turnout(state, "kubectl", "logs", "sleeper").stdout
        assert "started" in logs
    finally:
        turnout(state, "down", check=False)
    assert turnout(state, "status", check=False).returncode == 3


def test_bad_cli_arguments_are_named(tmp_path: Path) -> None:
    r = turnout(tmp_path, "up", "--bogus", check=False)
    assert r.returncode == 2 and "--bogus" in r.stderr
    r = turnout(tmp_path, "kubeconfig", check=False)
    assert r.returncode == 1 and "turnout up" in r.stderr
