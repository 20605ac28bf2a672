"""The demo scenario's pure parts and kubectl plumbing (the full run: tests/cli/test_demo.py)."""

from __future__ import annotations

import io
import re
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console

from turnout.cluster.state import StateDir
from turnout.demo import scenario
from turnout.demo.scenario import Scenario

SHIPPED = Path(str(resources.files("turnout") / "examples" / "lab"))


def make(tmp_path: Path, manifests: Path, kubectl_bin: str = "kubectl") -> tuple[Scenario,
                                                                                   io.StringIO]:
    out = io.StringIO()
    s = Scenario(state=StateDir(tmp_path / "state"), port=0, manifests=manifests,
                 kubectl_bin=kubectl_bin, console=Console(file=out, width=200))
    return s, out


def test_binomial_bound() -> None:
    assert scenario.binomial_ok(100, 200) and scenario.binomial_ok(72, 200)
    assert not scenario.binomial_ok(71, 200) and not scenario.binomial_ok(0, 0)
    assert scenario.bound_text(200) == "72–128 of 200"


def test_lab_root_takes_the_folder_or_the_manifest_files_inside_it(tmp_path: Path) -> None:
    assert scenario.lab_root(SHIPPED) == SHIPPED / "manifest-files"
    assert scenario.lab_root(SHIPPED / "manifest-files") == SHIPPED / "manifest-files"
    s, _ = make(tmp_path, SHIPPED)
    assert s.manifests == (SHIPPED / "manifest-files").resolve()
    assert s.f("database") == "manifest-files/database"


def test_every_lab_file_the_scenario_types_is_shipped() -> None:
    source = Path(scenario.__file__).read_text()
    used = re.findall(r'self\.f\("([^"]+)"\)', source)
    assert len(used) >= 15
    missing = [rel for rel in used if not (SHIPPED / "manifest-files" / rel).exists()]
    assert not missing


def test_kubectl_runs_beside_manifest_files_with_the_lab_paths(tmp_path: Path) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text('#!/bin/sh\necho "$PWD|$*|$KUBECONFIG"\n')
    fake.chmod(0o755)
    s, out = make(tmp_path, SHIPPED, str(fake))
    said = s.kubectl("apply", "-f", s.f("database"), "-n", "database").strip()
    cwd, args, kubeconfig = said.split("|")
    assert Path(cwd).resolve() == SHIPPED.resolve()
    assert args == "apply -f manifest-files/database -n database"
    assert kubeconfig == str(tmp_path / "state" / "kubeconfig")
    assert "$ kubectl apply -f manifest-files/database -n database" in out.getvalue()
    s.kubectl("get", "pods", quiet=True)
    assert "get pods" not in out.getvalue()


def test_failing_kubectl_raises_with_its_message(tmp_path: Path) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text('#!/bin/sh\necho "Error from server (AlreadyExists)" >&2\nexit 1\n')
    fake.chmod(0o755)
    s, _ = make(tmp_path, SHIPPED, str(fake))
    with pytest.raises(RuntimeError, match="AlreadyExists"):
        s.kubectl("create", "ns", "ns1")


def test_any_failed_check_fails_the_run(tmp_path: Path) -> None:
    s, out = make(tmp_path, SHIPPED)
    s.check("5", "home pages: ad banners", "{'1.0': 60}", "{'1.0': 60}", True)
    assert s.passed()
    s.check("4", scenario.NS2_CANARY, "0 of 200", "72–128 of 200", False)
    assert not s.passed() and s.checks[-1].status == "FAILED"
    s.summary()
    assert "FAILED" in out.getvalue()


def test_p50_difference_from_a_comparison() -> None:
    cmp = {"latency": {"quantiles": [{"quantile": 0.99, "difference": 190.0},
                                     {"quantile": 0.5, "difference": 201}]}}
    assert scenario._p50_difference(cmp) == 201.0
    assert scenario._p50_difference({"latency": None}) is None
    assert scenario._p50_difference({"latency": {"quantiles": [{"quantile": 0.5}]}}) is None
