"""Helpers for the demo tests: the lab's container settings, service processes, a capture server."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from turnout.demo import catalog as demo_catalog
from turnout.runtime.catalog import Catalog

REPO = Path(__file__).resolve().parents[2]
LAB = REPO.parent / "shared" / "lab" / "manifest-files"
SUBNET = f"127.88.{os.getpid() % 200 + 20}"
_next_host = iter(range(2, 250))


def new_ip() -> str:
    """A fresh 127.88.x.y address for one pod of this test run."""
    return f"{SUBNET}.{next(_next_host)}"


@dataclass(frozen=True)
class Container:
    image: str
    command: list[str] | None
    args: list[str] | None
    env: dict[str, str]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _secret(name: str, key: str) -> str:
    for doc in _docs(LAB / "ecommerce-v1" / "db.yaml"):
        if doc.get("kind") == "Secret" and doc["metadata"]["name"] == name:
            raw = base64.b64decode(doc["data"][key])
            return raw.decode("utf-8", "surrogateescape")  # as the kubelet passes it
    raise KeyError(name)


def lab_container(relpath: str) -> Container:
    """The first container of the Deployment in a lab manifest, env resolved like the kubelet."""
    if not (LAB / relpath).is_file():
        pytest.skip(f"the lab's manifest {relpath} is not under {LAB}")
    deployment = next(d for d in _docs(LAB / relpath) if d.get("kind") == "Deployment")
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for item in c.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = _secret(ref["name"], ref["key"])
        else:
            env[item["name"]] = "127.0.0.1"  # fieldRef status.hostIP
    return Container(str(c["image"]).strip(), c.get("command"), c.get("args"), env)


def demo_catalog_() -> Catalog:
    cat = Catalog(builtins=False)
    demo_catalog.register(cat)
    return cat


def argv_for(container: Container) -> list[str]:
    return demo_catalog_().resolve(container.image, container.command, container.args).argv


def base_env(ip: str) -> dict[str, str]:
    """A pod's environment without the lab's variables: no proxy unless a test sets one."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "POD_IP": ip,
            "PYTHONPATH": str(REPO), "HTTP_PROXY": "", "http_proxy": "", "NO_PROXY": "",
            "LANG": "C.UTF-8"}


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    ip: str
    port: int
    log: Path

    def url(self, path: str = "/") -> str:
        return f"http://{self.ip}:{self.port}{path}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def port_open(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((ip, port)) == 0


@dataclass
class Spawner:
    tmp: Path
    started: list[Service] = field(default_factory=list)

    def start(self, argv: list[str], env: dict[str, str], port: int, cwd: Path | None = None,
              timeout: float = 10.0) -> Service:
        ip = env["POD_IP"]
        log = self.tmp / f"{ip}-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, cwd=cwd or self.tmp, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        svc = Service(proc, ip, port, log)
        self.started.append(svc)
        deadline = time.monotonic() + timeout
        while not port_open(ip, port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv} did not listen on {ip}:{port}:\n{svc.output()}")
            time.sleep(0.05)
        return svc

    def stop(self, svc: Service, grace: float = 10.0) -> int:
        if svc.proc.poll() is None:
            os.killpg(svc.proc.pid, signal.SIGTERM)
            try:
                svc.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(svc.proc.pid, signal.SIGKILL)
                svc.proc.wait()
        return svc.proc.returncode

    def stop_all(self) -> None:
        for svc in self.started:
            with contextlib.suppress(ProcessLookupError):
                self.stop(svc, grace=5.0)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0
        ) -> tuple[int, dict[str, str], bytes]:
    """GET without any proxy; HTTP errors are returned, not raised."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = get(url, headers)
    assert status == 200, body
    return json.loads(body)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class Capture:
    """A tiny HTTP server that records requests (also as a forward proxy: absolute paths)."""

    def __init__(self, ip: str, answers: dict[str, Any]) -> None:
        self.seen: list[Seen] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                capture.seen.append(Seen(self.path, {k.lower(): v for k, v in
                                                     self.headers.items()}))
                key = next((k for k in answers if self.path.endswith(k)), None)
                body = json.dumps(answers[key]).encode() if key else b"{}"
                self.send_response(200 if key else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((ip, 0), Handler)
        self.server.daemon_threads = True
        self.ip = ip
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[Capture]:
        self.thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def run_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"turnout.demo.{module}", *args]
