"""Watch streams: open through quiet periods, bookmarks, watch-list, 410 for a compacted RV."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from tests.api.helpers import world
from turnout.api import watch
from turnout.kube import listoptions
from turnout.store.db import Store
from turnout.store.objects import Objects


def _spec(o: Objects, **q: str) -> watch.WatchSpec:
    rt = o.registry.by_key("configmaps")
    assert rt is not None
    opts = listoptions.parse({"watch": "true", **q})
    return watch.WatchSpec.from_query(rt, "default", "", opts, table=False)


def _cm(o: Objects, name: str) -> None:
    rt = o.registry.by_key("configmaps")
    assert rt is not None
    o.create(rt, "default", {"metadata": {"name": name}, "data": {"k": "v"}})


async def _next(it: AsyncIterator[bytes], timeout: float = 5) -> list[dict[str, Any]]:
    chunk = await asyncio.wait_for(it.__anext__(), timeout)
    return [json.loads(line) for line in chunk.decode().splitlines()]


def test_a_watch_outlives_many_quiet_bookmark_intervals_then_sees_a_change() -> None:
    async def go() -> None:
        o = world()
        spec = _spec(o, resourceVersion=str(o.store.resource_version),
                     allowWatchBookmarks="true")
        it = watch.stream(o, spec, bookmark_seconds=0.05, stopping=asyncio.Event())
        for _ in range(5):  # five idle intervals: bookmarks, and the stream stays open
            (ev,) = await _next(it)
            assert ev["type"] == "BOOKMARK"
            assert ev["object"]["metadata"]["resourceVersion"].isdigit()
        _cm(o, "later")
        while True:
            (ev,) = await _next(it)
            if ev["type"] != "BOOKMARK":
                break
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "later"
        await it.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())


def test_without_bookmarks_a_quiet_watch_sends_nothing_and_stays_open() -> None:
    async def go() -> None:
        o = world()
        spec = _spec(o, resourceVersion=str(o.store.resource_version))
        it = watch.stream(o, spec, bookmark_seconds=0.02, stopping=asyncio.Event())
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.3)  # fifteen bookmark intervals pass without an event
        assert not first.done()
        _cm(o, "x")
        ev = json.loads(await asyncio.wait_for(first, 5))
        assert ev["type"] == "ADDED"
        await it.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())


def test_timeout_seconds_ends_the_stream_normally() -> None:
    async def go() -> None:
        o = world()
        spec = _spec(o, resourceVersion=str(o.store.resource_version), timeoutSeconds="1")
        it = watch.stream(o, spec, bookmark_seconds=10, stopping=asyncio.Event())
        chunks = [c async for c in it]
        assert chunks == []

    asyncio.run(go())


def test_default_timeout_is_min_request_timeout_times_one_to_two() -> None:
    o = world()
    for _ in range(20):
        t = _spec(o).timeout_seconds
        assert 1800 <= t < 3600


def test_watch_list_sends_state_then_the_initial_events_end_bookmark() -> None:
    async def go() -> None:
        o = world()
        _cm(o, "a")
        _cm(o, "b")
        spec = _spec(o, sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                     allowWatchBookmarks="true")
        it = watch.stream(o, spec, bookmark_seconds=10, stopping=asyncio.Event())
        evs = await _next(it)
        assert [(e["type"], e["object"]["metadata"].get("name")) for e in evs] == [
            ("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
        end = evs[-1]["object"]["metadata"]
        assert end["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert end["resourceVersion"] == str(o.store.resource_version)
        _cm(o, "c")
        (ev,) = await _next(it)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "c"
        await it.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())


def test_a_compacted_resource_version_is_an_expired_error_event() -> None:
    async def go() -> None:
        from tests.api.helpers import bootstrap_into

        o = bootstrap_into(Objects(Store(None, log_size=3), world().registry))
        for i in range(6):
            _cm(o, f"c{i}")
        spec = _spec(o, resourceVersion="2")
        it = watch.stream(o, spec, bookmark_seconds=10, stopping=asyncio.Event())
        (ev,) = await _next(it)
        assert ev["type"] == "ERROR"
        status = ev["object"]
        assert status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"].startswith("too old resource version: 2 (")

    asyncio.run(go())


def test_server_stop_ends_open_watches() -> None:
    async def go() -> None:
        o = world()
        stopping = asyncio.Event()
        spec = _spec(o, resourceVersion=str(o.store.resource_version))
        it = watch.stream(o, spec, bookmark_seconds=10, stopping=stopping)
        task = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.05)
        stopping.set()
        try:
            await asyncio.wait_for(task, 5)
            raise AssertionError("expected the stream to end")
        except StopAsyncIteration:
            pass

    asyncio.run(go())
