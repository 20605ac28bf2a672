"""Container lifecycle hooks: ``postStart`` and ``preStop`` (exec, httpGet, tcpSocket, sleep).

A hook handler has a probe's shape, so one check from :mod:`turnout.runtime.probes` runs it; what
differs is the time it may take (a hook has no timeoutSeconds: the kubelet bounds preStop by the
grace period) and the kubelet's messages, which name the handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from turnout.runtime import probes
from turnout.types import Obj

HOOK_TIMEOUT = 30.0
"""Bound for a postStart hook (the kubelet waits for it before the container is Running)."""


def describe(handler: Obj) -> str:
    if "exec" in handler:
        return f"Exec lifecycle hook ({list((handler['exec'] or {}).get('command') or [])})"
    if "httpGet" in handler:
        h = handler["httpGet"] or {}
        return f"HTTP lifecycle hook ({h.get('path') or '/'})"
    if "sleep" in handler:
        return f"Sleep lifecycle hook ({(handler['sleep'] or {}).get('seconds')}s)"
    return f"Lifecycle hook ({', '.join(sorted(handler))})"


async def run(handler: Obj, *, pod_ip: str, container: Obj, env: Mapping[str, str],
              cwd: str | None, timeout: float) -> tuple[bool, str]:
    """Run one handler within ``timeout`` seconds; (ok, message for a failure event)."""
    if "sleep" in handler:
        seconds = float((handler["sleep"] or {}).get("seconds") or 0)
        await asyncio.sleep(min(seconds, timeout))
        return True, ""
    probe = {**handler, "timeoutSeconds": max(timeout, 0.001)}
    ok, message = await probes.check(probe, pod_ip=pod_ip, container=container, env=env,
                                     cwd=cwd)
    return ok, message
