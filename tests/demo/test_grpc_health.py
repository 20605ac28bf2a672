"""podinfo's gRPC health server and the `grpc_health_probe` stand-in, over real loopback sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from turnout.demo import grpc_health, grpc_probe
from turnout.demo.catalog import BIN

HOST = "127.81.0.1"
PROBE = BIN / "grpc_health_probe"


def start(statuses: dict[str, int], host: str = HOST) -> tuple[socket.socket, int]:
    health = grpc_health.HealthServer(statuses)
    sock = health.listen(host, 0)
    threading.Thread(target=health.accept_loop, args=(sock,), daemon=True).start()
    return sock, sock.getsockname()[1]


@pytest.fixture(scope="module")
def podinfo() -> Iterator[int]:
    sock, port = start({"": grpc_health.SERVING, "podinfo": grpc_health.SERVING,
                        "draining": grpc_health.NOT_SERVING})
    yield port
    sock.close()


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TURNOUT_PYTHON": sys.executable}
    return subprocess.run([str(PROBE), *args], capture_output=True, text=True, env=env,
                          timeout=30)


def test_messages_round_trip_by_hand_encoding() -> None:
    assert grpc_health.encode_request("") == b""
    assert grpc_health.encode_request("podinfo") == b"\x0a\x07podinfo"
    assert grpc_health.decode_request(grpc_health.encode_request("x" * 300)) == "x" * 300
    assert grpc_health.encode_response(grpc_health.SERVING) == b"\x08\x01"
    assert grpc_health.decode_response(b"") == grpc_health.UNKNOWN
    assert grpc_health.unframe(grpc_health.frame(b"\x08\x02")) == b"\x08\x02"
    with pytest.raises(ValueError):
        grpc_health.unframe(b"\x01\x00\x00\x00\x00")  # compressed: nothing was offered


def test_server_answers_as_grpc_health_does(podinfo: int) -> None:
    assert grpc_health.check(HOST, podinfo).status == grpc_health.SERVING
    assert grpc_health.check(HOST, podinfo, "podinfo").status == grpc_health.SERVING
    unknown = grpc_health.check(HOST, podinfo, "nosuch")
    assert (unknown.code, unknown.message) == (grpc_health.NOT_FOUND, "unknown service")
    health = grpc_health.HealthServer({"": grpc_health.SERVING})
    assert health.answer("/grpc.health.v1.Health/Watch", b"")[0] == grpc_health.UNIMPLEMENTED


def test_serve_in_thread_listens_before_returning() -> None:
    with socket.socket() as s:  # a free port on our own address
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    grpc_health.serve_in_thread("127.81.0.2", port, "podinfo")
    assert grpc_health.check("127.81.0.2", port, "podinfo").status == grpc_health.SERVING


def test_probe_serving_exits_0_and_says_so(podinfo: int) -> None:
    for args in ([f"-addr={HOST}:{podinfo}"],
                 ["-connect-timeout=1s", "-addr", f"{HOST}:{podinfo}", "--service=podinfo"]):
        r = probe(*args)
        assert (r.returncode, r.stderr.strip()) == (0, "status: SERVING"), r


def test_probe_unknown_service_is_rpc_failure_3_and_not_serving_is_4(podinfo: int) -> None:
    r = probe(f"-addr={HOST}:{podinfo}", "-service=nosuch")
    assert r.returncode == grpc_probe.RPC_FAILURE
    assert "code = NotFound desc = unknown service" in r.stderr
    r = probe(f"-addr={HOST}:{podinfo}", "-service=draining")
    assert r.returncode == grpc_probe.UNHEALTHY
    assert 'service unhealthy (responded with "NOT_SERVING")' in r.stderr


def test_probe_nothing_listening_or_no_http2_is_connection_failure_2() -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        r = probe(f"-addr={HOST}:{port}", "-connect-timeout=200ms")
    assert r.returncode == grpc_probe.CONNECTION_FAILURE, r
    assert f'failed to connect service "{HOST}:{port}" within 200ms' in r.stderr
    with socket.create_server((HOST, 0)) as silent:  # accepts, never answers HTTP/2
        r = probe(f"-addr={HOST}:{silent.getsockname()[1]}", "-connect-timeout=300ms")
    assert r.returncode == grpc_probe.CONNECTION_FAILURE, r


@pytest.mark.parametrize(("args", "says"), [
    ([], "-addr not specified"),
    (["-addr=x:1", "-bogus"], "flag provided but not defined: -bogus"),
    (["-addr=x:1", "-tls"], "TLS is not supported"),
    (["-addr=x:1", "-connect-timeout=0"], "-connect-timeout must be greater than zero"),
    (["-addr=x:1", "-rpc-timeout=1"], 'invalid value "1"'),
    (["-addr"], "flag needs an argument: -addr"),
])
def test_probe_bad_arguments_exit_1(args: list[str], says: str) -> None:
    assert grpc_probe.run(args) == grpc_probe.INVALID_ARGUMENTS
    if args == ["-addr=x:1", "-bogus"]:  # once through the shim, as pods run it
        r = probe(*args)
        assert r.returncode == grpc_probe.INVALID_ARGUMENTS and says in r.stderr


def test_go_durations() -> None:
    assert grpc_probe.go_duration("1s") == 1.0
    assert grpc_probe.go_duration("1m30.5s") == 90.5
    assert grpc_probe.go_duration("250ms") == 0.25
    assert grpc_probe.go_duration("0") == 0.0
    with pytest.raises(grpc_probe.ArgError):
        grpc_probe.go_duration("1x")
