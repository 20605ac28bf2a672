"""Shared helpers for runtime tests: a kubelet with a fake client and fast back-off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from turnout.runtime.catalog import Catalog
from turnout.runtime.fake import FakeClient
from turnout.runtime.kubelet import Kubelet

TEST_POD_NETWORK = "127.30.0.0/16"
"""Not a port set's network (127.10-15.0.0/16): tests never meet a running cluster's pods."""


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
async def kubelet(tmp_path: Path, client: FakeClient) -> AsyncIterator[Kubelet]:
    # pods on a network of their own, apart from any cluster running on this machine
    k = Kubelet(tmp_path, client, Catalog([tmp_path / "catalog.yaml"]), backoff_seconds=0.2,
                pod_network=TEST_POD_NETWORK)
    try:
        yield k
    finally:
        await k.shutdown(grace=0.5)
