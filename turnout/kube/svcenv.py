"""The Docker-links-style service variables Kubernetes puts in every container (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from turnout.types import Obj


def _name(s: str) -> str:
    return s.upper().replace("-", "_").replace(".", "_")


def service_env(services: Iterable[Obj]) -> dict[str, str]:
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        n = _name(svc["metadata"]["name"])
        first = ports[0]
        env[f"{n}_SERVICE_HOST"] = ip
        env[f"{n}_SERVICE_PORT"] = str(first["port"])
        for p in ports:
            if p.get("name"):
                env[f"{n}_SERVICE_PORT_{_name(p['name'])}"] = str(p["port"])
        proto = str(first.get("protocol", "TCP")).lower()
        env[f"{n}_PORT"] = f"{proto}://{ip}:{first['port']}"
        for p in ports:
            pr = str(p.get("protocol", "TCP"))
            base = f"{n}_PORT_{p['port']}_{pr.upper()}"
            env[base] = f"{pr.lower()}://{ip}:{p['port']}"
            env[f"{base}_PROTO"] = pr.lower()
            env[f"{base}_PORT"] = str(p["port"])
            env[f"{base}_ADDR"] = ip
    return env
