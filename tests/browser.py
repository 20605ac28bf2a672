"""Debian's Chromium under Playwright, as every browser test here launches it."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("TURNOUT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# `make test` installs Debian's chromium; in CI a missing browser must fail, not skip
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (make test installs it)")
