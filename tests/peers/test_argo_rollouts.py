"""Argo Rollouts' own examples and getting-started guides, from ../shared/peers/, on turnout.

Every manifest folder is applied as its guide applies it (one namespace per case); every Rollout
in it must reach Healthy. What cannot pass here is listed in `EXPECTED` with the reason a user
would accept; such a case is a strict xfail, so one that starts passing must leave the list.
The basic guide's walk (new image, pause at 20 %, promote, finish) is followed step by step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, RunningCluster, start_cluster, stop_cluster

ARGO = REPO.parent / "shared" / "peers" / "argo-rollouts"
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not ARGO.exists() and not os.environ.get("CI"),
                       reason="the pinned peers (../shared/peers) are not beside the repo"),
]


def _cases() -> dict[str, list[Path]]:
    """case name -> the manifests applied together (a guide's folder, or one example file)."""
    out: dict[str, list[Path]] = {}
    guides = ARGO / "docs" / "getting-started"
    for d in sorted(p for p in guides.iterdir() if p.is_dir() and p.name != "setup"):
        files = sorted(d.glob("*.yaml"))
        if files:
            out[f"guide/{d.name}"] = files
    for f in sorted((ARGO / "examples").rglob("*.yaml")):
        rel = f.relative_to(ARGO / "examples")
        if rel.parts[0] == "helm-blue-green" or f.name == "kustomization.yaml":
            continue  # a Helm chart and a kustomize file: not manifests to apply
        if len(rel.parts) > 1 and rel.parts[0] in ("ambassador", "apisix", "appmesh"):
            out.setdefault(f"example/{rel.parts[0]}", []).append(f)
        else:
            out[f"example/{rel.as_posix()}"] = [f]
    return out


CASES = _cases() if ARGO.exists() else {}

_OTHER_PROXY = ("needs {}'s controller and CRDs, which turnout does not run (on a real cluster "
                "they come with {})")
EXPECTED: dict[str, str] = {
    "guide/alb": _OTHER_PROXY.format("the AWS Load Balancer Controller", "EKS"),
    "guide/smi": _OTHER_PROXY.format("an SMI mesh (TrafficSplit)", "Linkerd or OSM"),
    "guide/mixed": _OTHER_PROXY.format("an SMI mesh (TrafficSplit)", "Linkerd or OSM"),
    "example/ambassador": _OTHER_PROXY.format("Ambassador/Emissary", "Emissary-ingress"),
    "example/apisix": _OTHER_PROXY.format("Apache APISIX", "the APISIX ingress controller"),
    "example/appmesh": _OTHER_PROXY.format("AWS App Mesh", "the App Mesh controller"),
    "example/traffic-management/rollout-linkerd.yaml":
        "a Go template of Argo's docs, not valid YAML until rendered",
    "example/traffic-routing-experiment-step/rollout-alb-experiment-step.yaml":
        _OTHER_PROXY.format("the AWS Load Balancer Controller", "EKS"),
    "example/traffic-routing-experiment-step/rollout-smi-experiment-step.yaml":
        _OTHER_PROXY.format("an SMI mesh (TrafficSplit)", "Linkerd or OSM"),
}


def _rollouts(files: list[Path]) -> list[str]:
    names = []
    for f in files:
        try:
            docs = list(yaml.safe_load_all(f.read_text()))
        except yaml.YAMLError:
            continue
        names += [d["metadata"]["name"] for d in docs
                  if isinstance(d, dict) and d.get("kind") == "Rollout"]
    return names


def _phase(c: RunningCluster, ns: str, name: str) -> tuple[str, str]:
    r = c.kubectl("get", "rollout", name, "-n", ns, "-o", "json", check=False)
    if r.returncode:
        return "missing", r.stderr.strip()
    st = json.loads(r.stdout).get("status") or {}
    return str(st.get("phase", "")), str(st.get("message", ""))


PREREQUISITES = ("analysis-templates.yaml", "cluster-analysis-templates.yaml")
"""Argo's examples reference the templates these files define: applied first, as its docs do."""


def _namespace(case: str) -> str:
    return "argo-" + "".join(ch if ch.isalnum() else "-" for ch in case.lower())[-40:].strip("-")


@pytest.fixture(scope="module")
def argo_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    c = start_cluster(tmp_path_factory.mktemp("argo") / "state",
                      {"TURNOUT_BACKOFF_SECONDS": "1"})
    try:
        yield c
    finally:
        stop_cluster(c)


@pytest.fixture(scope="module")
def applied(argo_cluster: RunningCluster) -> dict[str, str]:
    """Every case applied up front, each in its namespace, so all converge at once: case ->
    kubectl's error ("" when the apply succeeded)."""
    c, out = argo_cluster, {}
    for case, files in CASES.items():
        ns = _namespace(case)
        c.kubectl("create", "namespace", ns, check=False)
        if case.startswith("example/"):
            for pre in PREREQUISITES:
                c.kubectl("apply", "-n", ns, "-f", str(ARGO / "examples" / pre), check=False)
        args = ["apply", "-n", ns]
        for f in files:
            args += ["-f", str(f)]
        r = c.kubectl(*args, check=False)
        out[case] = "" if r.returncode == 0 else r.stderr.strip()
    return out


@pytest.mark.parametrize("case", [
    pytest.param(name, marks=pytest.mark.xfail(reason=EXPECTED[name], strict=True))
    if name in EXPECTED else name for name in CASES])
def test_example_applies_and_every_rollout_becomes_healthy(
        argo_cluster: RunningCluster, applied: dict[str, str], case: str) -> None:
    c, ns = argo_cluster, _namespace(case)
    assert applied[case] == "", f"kubectl apply: {applied[case]}"
    for name in _rollouts(CASES[case]):
        # InvalidSpec is final until the spec changes: no need to wait it out
        c.wait_for(lambda name=name: _phase(c, ns, name)[0] == "Healthy" or
                   "InvalidSpec" in _phase(c, ns, name)[1], timeout=90,
                   what=f"rollout {name} Healthy (now {_phase(c, ns, name)})")
        phase, message = _phase(c, ns, name)
        assert phase == "Healthy", f"rollout {name}: {phase}: {message}"


def test_basic_guide_walk(argo_cluster: RunningCluster) -> None:
    """The basic guide: a new image pauses at 20 % until promoted, then finishes by itself."""
    c, ns = argo_cluster, "argo-basic-walk"
    c.kubectl("create", "namespace", ns)
    guide = ARGO / "docs" / "getting-started" / "basic"
    c.kubectl("apply", "-n", ns, "-f", str(guide / "rollout.yaml"), "-f",
              str(guide / "service.yaml"))
    c.wait_for(lambda: _phase(c, ns, "rollouts-demo")[0] == "Healthy", timeout=90,
               what="the first revision Healthy")
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
              "value": "argoproj/rollouts-demo:yellow"}]
    c.kubectl("patch", "rollout", "rollouts-demo", "-n", ns, "--type", "json", "-p",
              json.dumps(patch))

    def status() -> dict[str, object]:
        out = json.loads(c.kubectl("get", "rollout", "rollouts-demo", "-n", ns, "-o",
                                   "json").stdout)
        st: dict[str, object] = out.get("status") or {}
        return st
    c.wait_for(lambda: status().get("phase") == "Paused", timeout=90, what="the pause at 20 %")
    assert status().get("currentStepIndex") == 1
    # `kubectl argo rollouts promote` clears the pause conditions through the status subresource
    c.kubectl("patch", "rollout", "rollouts-demo", "-n", ns, "--subresource", "status",
              "--type", "merge", "-p", json.dumps({"status": {"pauseConditions": None}}))
    c.wait_for(lambda: status().get("phase") == "Healthy", timeout=120,
               what="the rollout to finish its timed pauses")
    pods = json.loads(c.kubectl("get", "pods", "-n", ns, "-l", "app=rollouts-demo", "-o",
                                "json").stdout)["items"]
    images = {p["spec"]["containers"][0]["image"] for p in pods
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"argoproj/rollouts-demo:yellow"}
