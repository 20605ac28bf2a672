"""Flagger's own e2e scenarios (../shared/peers/flagger/test/<provider>/test-*.sh), run as its CI
runs them, with turnout in the place of kind + Flagger.

Each provider's `run.sh` order is followed: `workloads/init.sh` (the test namespace, podinfo,
the load tester), then the scenario scripts. What the scripts take from Flagger's repo besides
`test/` is laid out by this module: the load tester's kustomization, and a `deployment/flagger`
whose logs the scripts print while they wait (turnout's controller runs in the cluster itself).
The installers (kind, istioctl, helm) are not run: turnout is the cluster, the mesh and the
controller. A script stops at its first failed check; its passed checks are its `✔` lines.

`kubernetes/test-deployment.sh` runs in `make test`; every scenario runs in `make conformance`,
whose counts `MINIMUM` holds: a scenario that passes fewer checks than recorded fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, RunningCluster, start_cluster, stop_cluster

FLAGGER = REPO.parent / "shared" / "peers" / "flagger"
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not FLAGGER.exists() and not os.environ.get("CI"),
                       reason="the pinned peers (../shared/peers) are not beside the repo"),
]

SCENARIOS: dict[str, list[str]] = {
    "kubernetes": ["test-deployment.sh", "test-daemonset.sh", "test-hpa.sh"],
    "istio": ["test-canary.sh", "test-skip-analysis.sh", "test-delegation.sh",
              "test-session-affinity.sh"],
    "nginx": ["test-canary.sh", "test-lifecycle.sh"],
}
QUICK = {("kubernetes", "test-deployment.sh")}
"""Scenarios short enough for `make test`."""

MINIMUM: dict[tuple[str, str], int] = {
    # measured 2026-12-02 (make conformance and single runs): 31 of 33 checks
    ("kubernetes", "test-deployment.sh"): 2,  # of 2
    ("kubernetes", "test-daemonset.sh"): 2,  # of 3: its last check expects the canary
    # DaemonSet still up after promotion (Flagger scales it to zero intervals later, turnout
    # 5 s after the primary is ready)
    ("kubernetes", "test-hpa.sh"): 4,  # of 4
    ("istio", "test-canary.sh"): 8,  # of 8
    ("istio", "test-skip-analysis.sh"): 3,  # of 3
    ("istio", "test-delegation.sh"): 2,  # of 2
    ("istio", "test-session-affinity.sh"): 1,  # of 2: verified by test/verify_session_
    # affinity.go, which the pinned copy of Flagger's tests does not include
    ("nginx", "test-canary.sh"): 5,  # of 5
    ("nginx", "test-lifecycle.sh"): 4,  # of 4
}
"""Checks each scenario passed when last measured (a ratchet); unlisted scenarios: 0."""

TESTER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: flagger-loadtester
  labels: {app: flagger-loadtester}
spec:
  selector:
    matchLabels: {app: flagger-loadtester}
  template:
    metadata:
      labels: {app: flagger-loadtester}
    spec:
      containers:
      - name: loadtester
        image: ghcr.io/fluxcd/flagger-loadtester:0.36.0
        ports:
        - {name: http, containerPort: 8080}
        command: ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"]
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: flagger-loadtester
  labels: {app: flagger-loadtester}
spec:
  selector: {app: flagger-loadtester}
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: http}
"""

CONTROLLER_STANDIN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: flagger
  namespace: {ns}
  annotations:
    turnout.dev/note: "turnout runs Flagger's controller in the cluster itself; this Deployment
      only answers the scenarios' `kubectl logs deployment/flagger`"
spec:
  selector:
    matchLabels: {{app: flagger}}
  template:
    metadata:
      labels: {{app: flagger}}
    spec:
      containers:
      - name: flagger
        image: busybox
        command: ["sh", "-c", "echo 'Flagger is built into turnout'; exec sleep 86400"]
"""

FLAGGER_PROMETHEUS = """\
# What Flagger's chart installs with `prometheus.install=true` (its install.sh for nginx and
# kubernetes): a Prometheus scraping the pods annotated prometheus.io/scrape.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: flagger-prometheus
  namespace: {ns}
  labels: {{app: flagger-prometheus}}
spec:
  selector:
    matchLabels: {{app: flagger-prometheus}}
  template:
    metadata:
      labels: {{app: flagger-prometheus}}
    spec:
      containers:
      - name: prometheus
        image: docker.io/prom/prometheus:v2.41.0
        args: ["--storage.tsdb.retention.time=2h", "--config.file=/etc/prometheus/prometheus.yml"]
        ports:
        - {{name: http, containerPort: 9090}}
        readinessProbe:
          httpGet: {{path: /-/ready, port: 9090}}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: flagger-prometheus
  namespace: {ns}
spec:
  selector: {{app: flagger-prometheus}}
  ports:
  - {{name: http, port: 9090, protocol: TCP, targetPort: http}}
"""


def repo_root(tmp: Path) -> Path:
    """A stand-in for Flagger's repository: its pinned `test/`, the tester's kustomization."""
    root = tmp / "flagger"
    root.mkdir()
    (root / "test").symlink_to(FLAGGER / "test")
    tester = root / "kustomize" / "tester"
    tester.mkdir(parents=True)
    (tester / "loadtester.yaml").write_text(TESTER)
    (tester / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: test\n"
        "resources: [loadtester.yaml]\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture(scope="module")
def flagger_cluster(tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[RunningCluster, Path]]:
    tmp = tmp_path_factory.mktemp("flagger")
    c = start_cluster(tmp / "state", {"TURNOUT_BACKOFF_SECONDS": "1"})
    try:
        root = repo_root(tmp)
        for ns in ("flagger-system", "istio-system", "ingress-nginx"):
            c.kubectl("create", "namespace", ns, check=False)
            c.kubectl("apply", "-f", "-", input=CONTROLLER_STANDIN.format(ns=ns))
            if ns != "istio-system":
                c.kubectl("apply", "-f", "-", input=FLAGGER_PROMETHEUS.format(ns=ns))
        # Prometheus where the scenarios' MetricTemplates look for it
        c.kubectl("apply", "-f", str(REPO / "turnout" / "examples" / "addons" /
                                     "prometheus.yaml"))
        yield c, root
    finally:
        stop_cluster(c)


def run_script(c: RunningCluster, root: Path, path: Path, timeout: float
               ) -> tuple[int, list[str], str]:
    """(exit code, the ✔ lines, the output's tail) of one script against the cluster."""
    env = {**c.env(), "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    try:
        r = subprocess.run(["bash", str(path)], cwd=root, env=env, text=True,
                           capture_output=True, timeout=timeout)
        code, out = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        code = -1
        out = (e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or "") + \
            f"\n(timed out after {timeout:.0f} s)"
    passed = [line for line in out.splitlines() if line.startswith("✔")]
    return code, passed, "\n".join(out.splitlines()[-25:])


def preamble(provider: str, script: str) -> tuple[str | None, list[str]]:
    """The scenario `<provider>/run.sh` runs before ``script`` (None for the first) and the
    lines between the two, as Flagger's CI runs them (install.sh left out: turnout is the
    cluster and runs Flagger)."""
    lines = [ln.strip() for ln in (FLAGGER / "test" / provider / "run.sh").read_text()
             .splitlines() if ln.strip() and not ln.strip().startswith(("#", "set ", "echo "))]
    out: list[str] = []
    previous: str | None = None
    for ln in lines:
        if ln.endswith(f"/{script}"):
            return previous, out
        if m := re.search(r"/(test-[\w-]+\.sh)$", ln):
            previous, out = m.group(1), []  # what follows it leads to this one
        elif "install.sh" not in ln and "=" not in ln.split()[0]:
            out.append(ln)
    raise AssertionError(f"{script} is not in {provider}/run.sh")


RAN: set[tuple[str, str]] = set()
"""Scenarios that ran on this module's cluster, in order."""


def prepare(c: RunningCluster, root: Path, provider: str, script: str) -> None:
    """Bring the cluster where run.sh has it before ``script``: the previous scenario first
    when it did not run here and nothing in between resets the workloads (`make conformance`
    runs without the quick ones), uncounted."""
    previous, lines = preamble(provider, script)
    resets = any("workloads/init.sh" in ln for ln in lines)
    if previous is not None and (provider, previous) not in RAN and not resets:
        prepare(c, root, provider, previous)
        run_script(c, root, FLAGGER / "test" / provider / previous, 600)
        RAN.add((provider, previous))
    for line in lines:
        code, _, out = run_line(c, root, provider, line)
        assert code == 0, f"{line} failed before {script}:\n{out}"


def run_line(c: RunningCluster, root: Path, provider: str, line: str
             ) -> tuple[int, list[str], str]:
    script = root / f"step-{abs(hash(line))}.sh"
    script.write_text(f"REPO_ROOT={root}\nDIR={FLAGGER / 'test' / provider}\n{line}\n")
    return run_script(c, root, script, 300)


def checks_in(path: Path) -> int:
    return len(re.findall(r"echo '✔", path.read_text()))


def _params() -> list[object]:
    out: list[object] = []
    for provider, scripts in SCENARIOS.items():
        for script in scripts:
            marks = [] if (provider, script) in QUICK else [pytest.mark.conformance]
            out.append(pytest.param(provider, script, marks=marks, id=f"{provider}/{script}"))
    return out


@pytest.mark.parametrize("provider,script", _params())
def test_flagger_scenario(flagger_cluster: tuple[RunningCluster, Path], provider: str,
                          script: str) -> None:
    c, root = flagger_cluster
    prepare(c, root, provider, script)  # what the provider's run.sh does before it
    path = FLAGGER / "test" / provider / script
    code, passed, tail = run_script(c, root, path, 600)
    RAN.add((provider, script))
    total = checks_in(path)
    print(f"\nflagger {provider}/{script}: {len(passed)} of {total} checks passed "
          f"(exit {code})")
    for line in passed:
        print(f"  {line}")
    floor = MINIMUM.get((provider, script), 0)
    assert len(passed) >= floor, f"{len(passed)} of {total} checks (was {floor}):\n{tail}"
    if len(passed) < total:
        pytest.xfail(f"{len(passed)} of {total} checks pass; the script stopped at:\n{tail}"
                     f"\nwhat the Canary said:\n{canary_events(c)}")


def canary_events(c: RunningCluster) -> str:
    """The Canaries' last Events in `test`: why a scenario stopped, in Flagger's words."""
    r = c.kubectl("-n", "test", "get", "events", "--field-selector", "involvedObject.kind=Canary",
                  "-o", "custom-columns=REASON:.reason,MESSAGE:.message", check=False)
    return "\n".join((r.stdout or r.stderr).splitlines()[-12:])
