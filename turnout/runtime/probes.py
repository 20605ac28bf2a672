"""Readiness, liveness and startup probes: one check (httpGet, tcpSocket, exec) and thresholds.

:class:`Tracker` turns a sequence of check results into a healthy/unhealthy verdict with the
kubelet's success/failure thresholds (pure); :func:`check` performs one check against a pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from turnout.types import Obj


@dataclass(frozen=True)
class Settings:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj) -> Settings:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


@dataclass
class Tracker:
    """Consecutive results → verdict. Starts at ``initial`` (readiness starts unready)."""

    settings: Settings
    healthy: bool
    successes: int = 0
    failures: int = 0

    def observe(self, ok: bool) -> bool | None:
        """Record one result; return the new verdict when it changed, else None."""
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.healthy and self.successes >= self.settings.success_threshold:
                self.healthy = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.healthy and self.failures >= self.settings.failure_threshold:
                self.healthy = False
                return False
        return None


def resolve_port(port: object, container: Obj) -> int:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} not found in container {container.get('name')}")


async def check(probe: Obj, *, pod_ip: str, container: Obj, env: Mapping[str, str],
                cwd: str | None = None) -> tuple[bool, str]:
    """Run one check; returns (success, kubelet-style failure message or output)."""
    timeout = Settings.of(probe).timeout
    try:
        if "httpGet" in probe:
            return await _http(probe["httpGet"], pod_ip, container, timeout)
        if "tcpSocket" in probe:
            return await _tcp(probe["tcpSocket"], pod_ip, container, timeout)
        if "exec" in probe:
            return await _exec(list(probe["exec"].get("command") or []), env, cwd, timeout)
        if "grpc" in probe:
            return False, "grpc probes are not supported by turnout"
    except ValueError as e:
        return False, str(e)
    return False, "probe has no handler (httpGet, tcpSocket or exec)"


async def _http(spec: Obj, pod_ip: str, container: Obj, timeout: float) -> tuple[bool, str]:
    host = str(spec.get("host") or pod_ip)
    port = resolve_port(spec.get("port"), container)
    path = str(spec.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    scheme = str(spec.get("scheme") or "HTTP").upper()
    url = f"{scheme.lower()}://{host}:{port}{path}"
    if scheme != "HTTP":
        return False, f"Get \"{url}\": scheme {scheme} is not supported by turnout"
    headers = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.32", "Accept": "*/*",
               "Connection": "close"}
    for h in spec.get("httpHeaders") or ():
        headers[str(h.get("name"))] = str(h.get("value", ""))
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write((request + "\r\n").encode())
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
    except TimeoutError:
        return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                       "awaiting headers)")
    except OSError as e:
        return False, f'Get "{url}": dial tcp {host}:{port}: connect: {_reason(e)}'
    parts = status_line.decode(errors="replace").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f'Get "{url}": malformed HTTP response {status_line[:80]!r}'
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _tcp(spec: Obj, pod_ip: str, container: Obj, timeout: float) -> tuple[bool, str]:
    host = str(spec.get("host") or pod_ip)
    port = resolve_port(spec.get("port"), container)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as e:
        return False, f"dial tcp {host}:{port}: connect: {_reason(e)}"
    return True, ""


async def _exec(command: list[str], env: Mapping[str, str], cwd: str | None, timeout: float
                ) -> tuple[bool, str]:
    if not command:
        return False, "exec probe has no command"
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, env=dict(env), cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        return False, f"exec {command[0]!r}: {_reason(e)}"
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return False, f"command {' '.join(command)!r} timed out"
    text = out.decode(errors="replace").strip()
    return proc.returncode == 0, text


def _reason(e: OSError) -> str:
    return (e.strerror or str(e)).lower()
