"""Flagger's load tester stand-in and the `hey` it runs, as real processes on pod addresses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.demo.helpers import (
    Capture,
    Container,
    Spawner,
    argv_for,
    base_env,
    demo_catalog_,
    get,
    new_ip,
)
from turnout.demo import catalog, loadtester

HEY = str(catalog.BIN / "hey")
WGET = str(catalog.BIN / "wget")
LOADTESTER = Container("ghcr.io/fluxcd/flagger-loadtester:0.38.0",
                       ["./loadtester", "-port=8080", "-log-level=info", "-timeout=1h"], None, {})


def post(url: str, body: object) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def hook(cmd: str, type_: str = "cmd", **meta: str) -> dict[str, object]:
    return {"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "x",
            "metadata": {"type": type_, "cmd": cmd, **meta}}


def start(spawner: Spawner, tmp: Path) -> str:
    env = {**base_env(new_ip()), **demo_catalog_().resolve(
        LOADTESTER.image, LOADTESTER.command, LOADTESTER.args).env}
    svc = spawner.start(argv_for(LOADTESTER), env, 8080, cwd=tmp)
    return svc.url()


def test_catalog_maps_both_images_with_hey_on_path() -> None:
    cat = demo_catalog_()
    for image in ("ghcr.io/fluxcd/flagger-loadtester:0.38.0",
                  "weaveworks/flagger-loadtester:0.18.0"):
        launch = cat.resolve(image, ["./loadtester", "-port=8080"], None)
        assert launch.argv[1:4] == ["-m", "turnout.demo.loadtester", "./loadtester"]
        assert launch.env["PATH"].split(os.pathsep)[0] == str(catalog.BIN)
    assert os.access(HEY, os.X_OK) and os.access(WGET, os.X_OK)


def test_flags_and_durations() -> None:
    assert loadtester.flag(["./loadtester", "-port=8080", "-timeout", "1h"], "port") == "8080"
    assert loadtester.flag(["-timeout", "1h"], "timeout") == "1h"
    assert loadtester.duration("1h") == 3600 and loadtester.duration("1m30s") == 90


def test_gates_and_probe(spawner: Spawner, tmp_path: Path) -> None:
    url = start(spawner, tmp_path)
    assert get(url + "healthz")[0] == 200
    ip = url.split("//")[1].split(":")[0]
    probe = subprocess.run([WGET, "--quiet", "--tries=1", "--timeout=4", "--spider",
                            "http://localhost:8080/healthz"], env={**base_env(ip)},
                           capture_output=True, timeout=10)
    assert probe.returncode == 0, probe.stderr  # the manifests' exec probe
    body = {"name": "podinfo", "namespace": "test"}
    assert post(url + "gate/approve", body) == (200, "OK")
    assert post(url + "gate/halt", body) == (403, "Forbidden")
    assert post(url + "gate/check", body) == (403, "Forbidden")  # closed by default
    assert post(url + "gate/open", body)[0] == 202
    assert post(url + "gate/check", body) == (200, "Approved")
    assert post(url + "gate/check", {**body, "name": "other"})[0] == 403
    assert post(url + "gate/close", body)[0] == 202
    assert post(url + "gate/check", body)[0] == 403
    assert post(url + "rollback/check", body)[0] == 403
    assert post(url + "rollback/open", body)[0] == 202
    assert post(url + "rollback/check", body) == (200, "Approved")
    assert post(url + "gate/check", body)[0] == 403  # a separate gate


def test_blocking_and_background_tasks(spawner: Spawner, tmp_path: Path) -> None:
    url = start(spawner, tmp_path)
    assert post(url, {"name": "podinfo", "namespace": "test"}) == (
        400, "metadata not found in payload")
    assert post(url, hook("echo token", "bash")) == (200, "")
    assert post(url, hook("echo token", "bash", returnCmdOutput="true")) == (200, "token\n")
    code, err = post(url, hook("echo nope; exit 3", "bash"))
    assert code == 500 and "nope" in err and "exit status 3" in err
    assert post(url, hook("x", "helm"))[0] == 400
    marks = tmp_path / "marks"
    cmd = f"echo run >> {marks}; sleep 1"
    assert post(url, hook(cmd)) == (202, "")
    assert post(url, hook(cmd)) == (202, "")  # the same command, still running: skipped
    time.sleep(1.6)
    assert marks.read_text().splitlines() == ["run"]
    assert post(url, hook(cmd)) == (202, "")  # finished: runs again
    time.sleep(0.5)
    assert marks.read_text().splitlines() == ["run", "run"]


def test_sigterm_stops_running_tasks(spawner: Spawner, tmp_path: Path) -> None:
    url = start(spawner, tmp_path)
    pidfile = tmp_path / "task.pid"
    assert post(url, hook(f"echo $$ > {pidfile}; exec sleep 60"))[0] == 202
    deadline = time.monotonic() + 5
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    assert spawner.stop(spawner.started[-1]) == 0
    time.sleep(0.2)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"task {pid} survived the load tester")


def test_hey_goes_through_the_pod_proxy_with_headers(tmp_path: Path) -> None:
    ip = new_ip()
    with Capture(ip, {"/": {"ok": True}}).running() as proxy:
        env = {**base_env(new_ip()), "HTTP_PROXY": f"http://{ip}:{proxy.port}",
               "http_proxy": f"http://{ip}:{proxy.port}"}
        out = subprocess.run([HEY, "-n", "4", "-c", "2", "-H", "Cookie: type=insider",
                              "http://podinfo.test:9898/"],
                             env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "[200]\t4 responses" in out.stdout
    assert [s.path for s in proxy.seen] == ["http://podinfo.test:9898/"] * 4
    assert proxy.seen[0].headers["cookie"] == "type=insider"


def test_hey_with_a_host_override_goes_straight_to_the_address(tmp_path: Path) -> None:
    """A proxy would replace Host with the URL's host (absolute-form), so `-host` bypasses it,
    as an ingress controller's Service is reached by address on a cluster."""
    ip, proxy_ip = new_ip(), new_ip()
    with Capture(ip, {"/": {"ok": True}}).running() as target, \
            Capture(proxy_ip, {"/": {}}).running() as proxy:
        env = {**base_env(new_ip()), "HTTP_PROXY": f"http://{proxy_ip}:{proxy.port}",
               "http_proxy": f"http://{proxy_ip}:{proxy.port}"}
        out = subprocess.run([HEY, "-n", "3", "-c", "1", "-host", "app.example.com",
                              f"http://{ip}:{target.port}/"],
                             env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "[200]\t3 responses" in out.stdout
    assert proxy.seen == []
    assert [s.headers["host"] for s in target.seen] == ["app.example.com"] * 3


def test_hey_duration_rate_and_sigterm(tmp_path: Path) -> None:
    ip = new_ip()
    with Capture(ip, {"/": {}}).running() as target:
        env = base_env(new_ip())
        t0 = time.monotonic()
        out = subprocess.run([HEY, "-z", "1s", "-q", "5", "-c", "2",
                              f"http://{ip}:{target.port}/"],
                             env=env, capture_output=True, text=True, timeout=30)
        took = time.monotonic() - t0
        assert out.returncode == 0 and "Summary:" in out.stdout
        assert 0.9 < took < 5
        assert 6 <= len(target.seen) <= 12  # 2 workers × 5/s × 1 s
        proc = subprocess.Popen([HEY, "-z", "10m", "-q", "2", "-c", "1",
                                 f"http://{ip}:{target.port}/"], env=env,
                                stdout=subprocess.PIPE, text=True)
        time.sleep(0.8)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Summary:" in stdout


def test_hey_refuses_unknown_flags() -> None:
    out = subprocess.run([HEY, "-bogus", "1", "http://x/"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode != 0 and "flag provided but not defined: -bogus" in out.stderr
