"""An in-memory :class:`~turnout.runtime.client.KubeletClient` for tests (like httpx's
MockTransport): objects are a dict, status updates and events are recorded in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from turnout.types import Obj


@dataclass
class Event:
    involved: Obj
    type: str
    reason: str
    message: str


@dataclass
class FakeClient:
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    statuses: dict[tuple[str, str], list[Obj]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    terminated: list[tuple[str, str]] = field(default_factory=list)

    def put(self, key: str, obj: Obj) -> None:
        meta = obj["metadata"]
        self.objects[(key, meta.get("namespace", "default"), meta["name"])] = obj

    def get_object(self, key: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((key, namespace, name))

    def service_env(self, namespace: str) -> dict[str, str]:
        return dict(self.env.get(namespace, {}))

    async def update_pod_status(self, namespace: str, name: str, status: Obj) -> None:
        self.statuses.setdefault((namespace, name), []).append(status)

    async def pod_terminated(self, namespace: str, name: str) -> None:
        self.terminated.append((namespace, name))

    async def record_event(self, involved: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(involved, type_, reason, message))

    # helpers for tests

    def status(self, namespace: str, name: str) -> Obj:
        history = self.statuses.get((namespace, name))
        return history[-1] if history else {}

    def container(self, namespace: str, name: str, container: str) -> Obj:
        for cs in self.status(namespace, name).get("containerStatuses") or ():
            if cs["name"] == container:
                return dict(cs)
        return {}

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0,
                       poll: float = 0.05) -> None:
        """Wait until ``predicate()`` is true, else raise TimeoutError with the last status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(poll)
        raise TimeoutError(f"condition not met; statuses={self.statuses}, events={self.events}")
