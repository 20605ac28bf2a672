"""Flagger's load tester (images ``ghcr.io/fluxcd/flagger-loadtester``,
``weaveworks/flagger-loadtester``), for Canaries whose webhooks call it.

Flagger's e2e scenarios and tutorials run ``flagger-loadtester`` next to the app and point their
webhooks at it. This stand-in answers as pkg/loadtester/server.go does, on ``$POD_IP:<-port>``
(8080 in Flagger's manifests): ``POST /`` with a webhook body runs ``metadata.cmd`` —
type ``cmd`` (the default) under ``sh -c`` in the background, one at a time per Canary and
command (a repeat while it runs is skipped), answering 202; types ``bash`` and ``kubectl`` block
and answer 200, or 500 with the error (``returnCmdOutput: "true"`` returns the output); no
metadata is a 400. ``/gate/approve`` 200, ``/gate/halt`` 403, ``/gate/check`` 200 ``Approved`` or
403 (gates per ``<name>.<namespace>``, closed until ``/gate/open``; ``/gate/close``), the same
under ``/rollback/``; ``/healthz``. Commands find ``hey`` (turnout's stand-in) and ``curl`` on
PATH and reach Services through the pod's proxy.

Bounded: a task runs at most ``-timeout`` (1h), at most 32 tasks run at once, output is kept up
to 64 KiB; SIGTERM stops the server and every task's process group.

Run: ``python -m turnout.demo.loadtester [./loadtester -port=8080 -timeout=1h ...]``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from turnout.demo import server

SERVICE = "flagger-loadtester"
DEFAULT_PORT = 9090  # the binary's default; Flagger's manifests pass -port=8080
MAX_TASKS = 32
KEEP = 64 * 1024


def flag(argv: Sequence[str], name: str) -> str | None:
    """A Go-style flag (`-name=v`, `--name=v`, `-name v`) from the container's command line."""
    found = None
    for i, a in enumerate(argv):
        for prefix in (f"-{name}=", f"--{name}="):
            if a.startswith(prefix):
                found = a[len(prefix):]
        if a in (f"-{name}", f"--{name}") and i + 1 < len(argv):
            found = argv[i + 1]
    return found


def duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            num += text[i]
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else text[i]
        if unit not in units or not num:
            raise ValueError(f"invalid duration {text!r}")
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    if num:
        raise ValueError(f"invalid duration {text!r} (missing unit)")
    return total


def _tail(stream: object, keep: int = KEEP) -> bytes:
    buf = b""
    read = getattr(stream, "read", None)
    while read is not None:
        chunk = read(8192)
        if not chunk:
            break
        buf = (buf + chunk)[-keep:]
    return buf


@dataclass
class Runner:
    """Runs webhook commands: background tasks (deduplicated) and blocking ones."""

    timeout: float = 3600.0
    max_tasks: int = MAX_TASKS
    log: Callable[[str], None] = lambda m: server.log(SERVICE, m)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, canary: str, command: str, log_output: bool) -> str:
        """Start ``sh -c command`` unless the same one runs for this canary: started | running
        | full."""
        key = f"{canary}|{command}"
        with self._lock:
            if key in self.running:
                self.log(f"command skipped {command} is already running")
                return "running"
            if len(self.running) >= self.max_tasks:
                return "full"
            proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            self.running[key] = proc
            self.total += 1
        self.log(f"task starting {command} ({canary})")
        threading.Thread(target=self._watch, args=(key, proc, command, log_output),
                         daemon=True).start()
        return "started"

    def _watch(self, key: str, proc: subprocess.Popen[bytes], command: str,
               log_output: bool) -> None:
        timer = threading.Timer(self.timeout, self._kill, args=(proc,))
        timer.daemon = True
        timer.start()
        out = _tail(proc.stdout)
        code = proc.wait()
        timer.cancel()
        with self._lock:
            self.running.pop(key, None)
        text = out.decode(errors="replace").strip()
        if code != 0:
            self.log(f"command failed {command} exit status {code} {text}")
        else:
            if log_output and text:
                self.log(text)
            self.log(f"command finished {command}")

    def run(self, argv: list[str], command: str) -> tuple[bool, str]:
        """A blocking task: (ok, output or error)."""
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            self.log(f"command failed {command}: {e}")
            return False, f"command {command} failed: {e}"
        timer = threading.Timer(self.timeout, self._kill, args=(proc,))
        timer.daemon = True
        timer.start()
        out = _tail(proc.stdout).decode(errors="replace")
        code = proc.wait()
        timer.cancel()
        if code != 0:
            self.log(f"command failed {command} exit status {code} {out.strip()}")
            return False, f"command {command} failed: {out}: exit status {code}"
        self.log(f"command finished {command}")
        return True, out

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                self.log(f"task {proc.pid} exited while being killed")

    def stop(self) -> None:
        with self._lock:
            procs = list(self.running.values())
        for p in procs:
            self._kill(p)


@dataclass
class Gates:
    """Manual gates per `<name>.<namespace>` (and `rollback.<name>.<namespace>`), closed by
    default."""

    open: dict[str, bool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, key: str, value: bool) -> None:
        with self._lock:
            self.open[key] = value

    def check(self, key: str) -> bool:
        with self._lock:
            return self.open.get(key, False)


def make_handler(runner: Runner, gates: Gates) -> server.Handler:
    def handle(req: server.Request) -> server.Response:
        path = req.path.rstrip("/") or "/"
        if path == "/healthz":
            return server.text_response("OK")
        if path == "/gate/approve":
            return server.text_response("OK")
        if path == "/gate/halt":
            return server.text_response("Forbidden", 403)
        if path == "/metrics":
            return server.text_response(f"flagger_loadtester_tasks_total {runner.total}\n")
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return server.text_response("", 400, note="bad-body")
        canary = f"{body.get('name')}.{body.get('namespace')}"
        for base, prefix in (("/gate", ""), ("/rollback", "rollback.")):
            if path == f"{base}/check":
                ok = gates.check(prefix + canary)
                return server.text_response("Approved" if ok else "Forbidden",
                                            200 if ok else 403)
            if path in (f"{base}/open", f"{base}/close"):
                gates.set(prefix + canary, path.endswith("/open"))
                return server.text_response("", 202)
        if path != "/":
            return server.text_response("404 page not found\n", 404)
        return _task(runner, canary, body)

    return handle


def _task(runner: Runner, canary: str, body: dict[str, object]) -> server.Response:
    meta = body.get("metadata")
    if not isinstance(meta, dict) or not meta:
        return server.text_response("metadata not found in payload", 400)
    typ = str(meta.get("type") or "cmd")
    cmd = str(meta.get("cmd") or "")
    output = str(meta.get("returnCmdOutput", "")).lower() == "true"
    if typ in ("bash", "kubectl"):
        argv = ["bash", "-c", cmd] if typ == "bash" else ["kubectl", *cmd.split()]
        ok, out = runner.run(argv, cmd)
        if not ok:
            return server.text_response(out, 500)
        return server.text_response(out if output else "", 200)
    if typ != "cmd":
        return server.text_response(f"unknown task type {typ} (turnout's load tester runs "
                                    "cmd, bash and kubectl)", 400)
    if not cmd:
        return server.text_response("cmd not found in metadata", 400)
    started = runner.submit(canary, cmd, str(meta.get("logCmdOutput", "")).lower() == "true")
    if started == "full":
        return server.text_response(f"{runner.max_tasks} tasks are running already", 503)
    return server.text_response("", 202)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    port = int(flag(args, "port") or DEFAULT_PORT)
    timeout = duration(flag(args, "timeout") or "1h")
    runner = Runner(timeout=timeout)
    try:
        server.serve(SERVICE, make_handler(runner, Gates()), server.bind_host(), port)
    finally:
        runner.stop()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
