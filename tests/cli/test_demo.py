"""`turnout demo --quick`: the whole lab story, reduced, on a fresh cluster (issue 5 in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster


def test_demo_plays_every_step_and_observes_the_seeds_figures(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "turnout.cli.main", "--state-dir",
                        str(tmp_path / "demo"), "demo", "--quick", "--down"],
                       text=True, capture_output=True, timeout=400,
                       env={**os.environ, "COLUMNS": "160"})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for check in ("ad banner versions", "banners from ads 2.0", "p50 latency 2.0 − 1.0",
                  "after rollback, banners", "storefront 2.0 pages through the Ingress",
                  "home pages: ad banners", "product pages: banners from ads 2.0"):
        assert check in out, check
    assert "FAILED" not in out and "is slower: p50 +" in out
