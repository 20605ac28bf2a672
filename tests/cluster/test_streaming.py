"""exec, attach, cp, port-forward and logs -f through every kubectl on the machine (1.32 and the
wheel's 1.37), over WebSockets (their default) and SPDY (their fallback)."""

from __future__ import annotations

import http.client
import os
import pty
import select
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningCluster, kubectl_binaries

pytestmark = pytest.mark.cluster

KUBECTLS = kubectl_binaries()
SPDY_ENV = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false",
            "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}

PODS = """
apiVersion: v1
kind: Pod
metadata:
  name: box
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"]
    env:
    - name: GREETING
      value: hello from box
  - name: side
    image: busybox
    command: ["sh", "-c", "while true; do echo side-line >&2; sleep 0.3; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
---
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  containers:
  - name: main
    image: busybox
    stdin: true
    command: ["sh", "-c", "while read l; do echo got $l; done; echo stdin-closed; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: reader-once
spec:
  containers:
  - name: main
    image: busybox
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got $l; done; echo stdin-closed; sleep 3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 8088
    targetPort: 80
"""


@pytest.fixture(scope="module")
def pods(cluster: RunningCluster) -> Iterator[RunningCluster]:
    cluster.kubectl("apply", "-f", "-", input=PODS)
    cluster.kubectl("wait", "--for=condition=Ready", "pod/box", "pod/web", "pod/reader",
                    "pod/reader-once", "--timeout=60s")
    yield cluster


def run(c: RunningCluster, binary: str, *args: str, input: str | None = None,
        spdy: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**c.env(), **(SPDY_ENV if spdy else {})}
    return subprocess.run([binary, *args], env=env, text=True, capture_output=True,
                          input=input, timeout=timeout)


@pytest.mark.parametrize("spdy", [False, True], ids=["websocket", "spdy"])
@pytest.mark.parametrize("kubectl", KUBECTLS)
def test_exec_output_stdin_and_exit_code(pods: RunningCluster, kubectl: str, spdy: bool) -> None:
    r = run(pods, kubectl, "exec", "box", "-c", "main", "--", "sh", "-c",
            'echo "$GREETING"; echo oops >&2; echo "$POD_IP $HTTP_PROXY"; pwd', spdy=spdy)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hello from box"
    ip, proxy = lines[1].split()
    assert ip.startswith("127.") and proxy.startswith("http://127.")
    assert lines[2].endswith("/pods/default/box/root")  # the container's working directory
    assert "oops" in r.stderr
    r = run(pods, kubectl, "exec", "-i", "box", "--", "sh", "-c", "tr a-z A-Z; exit 3",
            input="piped text\n", spdy=spdy)
    assert r.stdout == "PIPED TEXT\n"
    assert r.returncode == 3
    assert "command terminated with exit code 3" in r.stderr


@pytest.mark.parametrize("kubectl", KUBECTLS)
def test_exec_tty(pods: RunningCluster, kubectl: str) -> None:
    out = in_terminal(pods, [kubectl, "exec", "-it", "box", "--", "sh", "-c",
                             "tty; stty size; exit 4"], columns=101, rows=31)
    assert "/dev/pts/" in out
    assert "31 101" in out
    assert "command terminated with exit code 4" in out


def in_terminal(c: RunningCluster, argv: list[str], columns: int, rows: int,
                timeout: float = 30) -> str:
    """Run ``argv`` with a pseudo-terminal of the given size; everything it wrote."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(argv, env=c.env(), stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    return out.decode(errors="replace")


@pytest.mark.parametrize("kubectl", KUBECTLS)
def test_cp_both_ways(pods: RunningCluster, kubectl: str, tmp_path: Path) -> None:
    src = tmp_path / "up.txt"
    src.write_text("payload\n")
    r = run(pods, kubectl, "cp", str(src), "box:up.txt", "-c", "main")
    assert r.returncode == 0, r.stderr
    assert run(pods, kubectl, "exec", "box", "--", "cat", "up.txt").stdout == "payload\n"
    run(pods, kubectl, "exec", "box", "--", "sh", "-c", "mkdir -p d && echo inner > d/f")
    r = run(pods, kubectl, "cp", "box:d", str(tmp_path / "down"), "-c", "main")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down" / "f").read_text() == "inner\n"


@pytest.mark.parametrize("spdy", [False, True], ids=["websocket", "spdy"])
@pytest.mark.parametrize("kubectl", KUBECTLS)
@pytest.mark.parametrize("target, remote", [("pod/web", "80"), ("svc/web", "8088")])
def test_port_forward(pods: RunningCluster, kubectl: str, spdy: bool, target: str,
                      remote: str) -> None:
    port = free_port()
    env = {**pods.env(), **(SPDY_ENV if spdy else {})}
    proc = subprocess.Popen([kubectl, "port-forward", target, f"{port}:{remote}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:<port> -> 80"
        assert "Forwarding from" in line, line
        for _ in range(3):  # several connections over one forward
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                assert b"Welcome to nginx!" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kubectl", KUBECTLS)
def test_attach_and_logs_follow(pods: RunningCluster, kubectl: str) -> None:
    for args, wants in ((["attach", "box", "-c", "main"], ["tick "]),
                        (["logs", "-f", "box", "--all-containers", "--prefix"],
                         ["[pod/box/main] tick", "[pod/box/side] side-line"])):
        proc = subprocess.Popen([kubectl, *args], env=pods.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            seen: list[str] = []
            while len(seen) < 400 and not all(any(w in s for s in seen) for w in wants):
                seen.append(proc.stdout.readline())  # a new line every 0.3 s per container
            assert all(any(w in s for s in seen) for w in wants), seen[-10:]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_refusals(pods: RunningCluster) -> None:
    r = pods.kubectl("exec", "box", "-c", "nope", "--", "true", check=False)
    assert "container nope is not valid for pod box" in r.stderr
    r = pods.kubectl("exec", "missing", "--", "true", check=False)
    assert 'pods "missing" not found' in r.stderr
    r = pods.kubectl("exec", "box", "--", "no-such-command", check=False)
    assert r.returncode != 0 and "no-such-command" in r.stderr
    # no token, no exec
    conn = http.client.HTTPSConnection("127.0.0.1", pods.port, context=pods.ssl, timeout=10)
    conn.request("GET", "/api/v1/namespaces/default/pods/box/exec?command=id&stdout=1",
                 headers={"Connection": "Upgrade", "Upgrade": "websocket",
                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                          "Sec-WebSocket-Version": "13"})
    assert conn.getresponse().status == 401
    conn.close()


def core_api(kubernetes: Any, c: RunningCluster) -> Any:
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(c.kubeconfig),
                                       client_configuration=config)
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


def test_python_client_exec_and_port_forward(pods: RunningCluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward, stream

    api = core_api(kubernetes, pods)
    out = stream(api.connect_get_namespaced_pod_exec, "box", "default", container="main",
                 command=["sh", "-c", "echo one; echo two"], stderr=False, stdin=False,
                 stdout=True, tty=False)
    assert out.splitlines() == ["one", "two"]
    ws = stream(api.connect_get_namespaced_pod_exec, "box", "default", container="main",
                command=["sh", "-c", "exit 7"], stderr=True, stdin=False, stdout=True,
                tty=False, _preload_content=False)
    ws.run_forever(timeout=10)
    assert ws.returncode == 7
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
    sock = pf.socket(80)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
    reply = b""
    deadline = time.monotonic() + 10
    while b"</html>" not in reply and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    assert b"Welcome to nginx!" in reply
    sock.close()


def attach_input(c: RunningCluster, kubectl: str, pod: str, line: str, want: str,
                 spdy: bool = False) -> str:
    """``kubectl attach -i`` feeding ``line``; the pod's log once it shows ``want``."""
    env = {**c.env(), **(SPDY_ENV if spdy else {})}
    proc = subprocess.Popen([kubectl, "attach", "-i", pod], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None
        proc.stdin.write(f"{line}\n".encode())
        proc.stdin.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            logs = c.kubectl("logs", pod).stdout
            if want in logs:
                return logs
            time.sleep(0.3)
        raise AssertionError(f"{want!r} not in the logs of {pod}: {logs[-500:]!r}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("spdy", [False, True], ids=["websocket", "spdy"])
@pytest.mark.parametrize("kubectl", KUBECTLS)
def test_attach_feeds_a_stdin_container(pods: RunningCluster, kubectl: str, spdy: bool) -> None:
    line = f"line-{Path(kubectl).parent.name}-{'spdy' if spdy else 'ws'}"
    logs = attach_input(pods, kubectl, "reader", line, f"got {line}", spdy)
    # stdin stays open across attaches (no stdinOnce): the loop still runs, nothing restarted
    assert "stdin-closed" not in logs
    status = pods.kubectl("get", "pod", "reader", "-o",
                          "jsonpath={.status.containerStatuses[0].restartCount}").stdout
    assert status == "0"


def test_stdin_once_closes_after_the_first_attach(pods: RunningCluster) -> None:
    logs = attach_input(pods, KUBECTLS[-1], "reader-once", "first", "stdin-closed")
    assert "got first\nstdin-closed" in logs


def test_python_client_port_forward_sees_the_pod_close(pods: RunningCluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward

    api = core_api(kubernetes, pods)
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
    sock = pf.socket(80)
    sock.settimeout(15)  # recv raises instead of waiting for good
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    reply = b""
    while chunk := sock.recv(65536):  # nginx closes after an HTTP/1.0 answer: end of file
        reply += chunk
    assert b"Welcome to nginx!" in reply
    sock.close()
