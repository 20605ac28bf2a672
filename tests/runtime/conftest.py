"""Shared helpers for runtime tests: a kubelet with a fake client and fast back-off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
async def kubelet(tmp_path: Path, client: FakeClient) -> AsyncIterator[Kubelet]:
    k = Kubelet(tmp_path, client, Catalog([tmp_path / "catalog.yaml"]), backoff_seconds=0.2)
    try:
        yield k
    finally:
        await k.shutdown(grace=0.5)
