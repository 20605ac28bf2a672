"""What the kubelet needs from the control plane, as a Protocol the API server side implements.

:mod:`turnout.runtime.fake` ships an in-memory implementation for tests.
"""

from __future__ import annotations

from typing import Protocol

from turnout.types import Obj


class KubeletClient(Protocol):
    def get_object(self, key: str, namespace: str, name: str) -> Obj | None:
        """A stored object by storage key ("secrets", "configmaps"), or None."""

    def service_env(self, namespace: str) -> dict[str, str]:
        """``<SVC>_SERVICE_HOST``/``_PORT`` etc. for pods in ``namespace``."""

    async def update_pod_status(self, namespace: str, name: str, status: Obj) -> None:
        """Replace the pod's ``status`` (only called when it changed)."""

    async def pod_terminated(self, namespace: str, name: str) -> None:
        """A pod with ``metadata.deletionTimestamp`` has fully stopped: remove it."""

    async def record_event(self, involved: Obj, type_: str, reason: str, message: str) -> None:
        """Record an Event; ``involved`` is an ObjectReference (kind, apiVersion, namespace,
        name, uid and, for container events, ``fieldPath`` like ``spec.containers{app}``)."""
