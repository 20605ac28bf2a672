"""The official Python client's own end-to-end suite (../shared/peers/kubernetes-client-python/
kubernetes/e2e_test), run against a turnout cluster as its CI runs it against kind: pytest in a
subprocess, the cluster found through KUBECONFIG (e2e_test/base.py), cwd at the repository root
so its relative YAML paths resolve.

The suite is a package of the `kubernetes` distribution (`kubernetes.e2e_test`) that the wheel
does not ship; a one-line plugin adds the peer's directory to the installed package's path.
`MINIMUM` ratchets the pass count; `EXPECTED_FAILURES` names each test that may fail and why.
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

PEER = REPO.parent / "shared" / "peers" / "kubernetes-client-python"
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not PEER.exists() and not os.environ.get("CI"),
                       reason="the pinned peers (../shared/peers) are not beside the repo"),
]

MINIMUM = 39
"""A ratchet. Measured 2026-12-02: 44 passed, 0 failed with the exec / port-forward work in the
tree; 39 are the tests that need neither."""

EXPECTED_FAILURES = {
    "test_client.py::TestClient::test_pod_apis": "exec over WebSocket (another piece of issue 12)",
    "test_client.py::TestClient::test_exit_code": "exec over WebSocket",
    "test_client.py::TestClient::test_pod_exec_close_channel": "exec over WebSocket (v5 close)",
    "test_client.py::TestClient::test_portforward_raw": "port-forward over WebSocket",
    "test_client.py::TestClient::test_portforward_http": "port-forward over WebSocket",
}
"""Tests that need exec / port-forward, which another engineer is building; nothing else may
fail."""

PLUGIN = """\
import kubernetes
kubernetes.__path__.append({path!r})
"""


@pytest.fixture(scope="module")
def suite_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    c = start_cluster(tmp_path_factory.mktemp("pyclient") / "state")
    try:
        yield c
    finally:
        stop_cluster(c)


def test_python_client_e2e_suite(suite_cluster: RunningCluster, tmp_path: Path) -> None:
    (tmp_path / "turnout_e2e_path.py").write_text(
        PLUGIN.format(path=str(PEER / "kubernetes")))
    env = {**suite_cluster.env(), "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "turnout_e2e_path",
         "-p", "no:cacheprovider", "-o", "addopts=", "kubernetes/e2e_test"],
        cwd=PEER, env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    summary = re.search(r"(\d+) passed", out)
    passed = int(summary.group(1)) if summary else 0
    failed = sorted({m.group(1) for m in re.finditer(
        r"^(?:FAILED|ERROR) kubernetes/e2e_test/(\S+)", out, re.M)})
    print(f"\nkubernetes-client-python e2e: {passed} passed; failed: {failed}")
    unexpected = [f for f in failed if f.split(" ")[0] not in EXPECTED_FAILURES]
    assert not unexpected, out[-6000:]
    assert passed >= MINIMUM, out[-6000:]
