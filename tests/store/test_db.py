"""The object store: resourceVersions, optimistic concurrency, persistence, watch resume/410."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from turnout.kube import errors
from turnout.store.db import Store


def cm(name: str, value: str = "1", rv: str | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": "default"}
    if rv:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def test_versions_increase_and_stale_updates_conflict(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    a = s.create("configmaps", cm("a"))
    b = s.create("configmaps", cm("b"))
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    with pytest.raises(errors.ApiError) as e:
        s.create("configmaps", cm("a"))
    assert e.value.code == 409 and e.value.reason == "AlreadyExists"
    s.update("configmaps", cm("a", "2"), expect_rv=a["metadata"]["resourceVersion"])
    with pytest.raises(errors.ApiError) as e:
        s.update("configmaps", cm("a", "3"), expect_rv=a["metadata"]["resourceVersion"])
    assert e.value.code == 409 and "has been modified" in e.value.message
    assert s.get("configmaps", "default", "a")["data"] == {"k": "2"}  # type: ignore[index]


def test_objects_and_version_survive_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    s.create("configmaps", cm("a"))
    s.delete("configmaps", "default", "a")
    s.create("configmaps", cm("b"))
    rv = s.resource_version
    s.close()
    again = Store(tmp_path / "db")
    assert again.resource_version == rv
    assert [o["metadata"]["name"] for o in again.list("configmaps")] == ["b"]
    with pytest.raises(errors.ApiError) as e:  # the watch log did not survive: 410 Gone
        again.events_since(rv - 1)
    assert e.value.code == 410


def test_watch_resumes_from_a_version_and_compaction_gives_gone() -> None:
    s = Store(None, log_size=3)
    start = s.resource_version
    for n in "abcd":
        s.create("configmaps", cm(n))
    with pytest.raises(errors.ApiError):
        s.events_since(start)  # 4 events, log of 3: the first is compacted
    assert [e.name for e in s.events_since(start + 1)] == ["b", "c", "d"]

    async def first_two() -> list[str]:
        out: list[str] = []
        async for ev in s.watch(s.resource_version):
            out.append(f"{ev.type}:{ev.name}")
            if len(out) == 2:
                break
        return out

    async def scenario() -> list[str]:
        task = asyncio.create_task(first_two())
        await asyncio.sleep(0.01)
        s.update("configmaps", cm("d", "2"))
        s.delete("configmaps", "default", "c")
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(scenario()) == ["MODIFIED:d", "DELETED:c"]


def test_a_write_from_a_worker_thread_wakes_watchers_on_the_loop() -> None:
    s = Store(None)

    async def scenario() -> str:
        async def first() -> str:
            async for ev in s.watch(s.resource_version):
                return f"{ev.type}:{ev.name}"
            return ""
        task = asyncio.create_task(first())
        await asyncio.sleep(0.01)
        await asyncio.to_thread(s.create, "configmaps", cm("from-thread"))
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(scenario()) == "ADDED:from-thread"
