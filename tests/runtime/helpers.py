"""Pod builders for runtime tests."""

from __future__ import annotations

import random

from turnout.types import Obj


def make_pod(name: str, containers: list[Obj], namespace: str = "default", **spec: object) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                     "labels": {"app": name}},
        "spec": {"containers": containers, **spec},
    }


def free_port() -> int:
    return random.randint(20000, 40000)
