from __future__ import annotations

import statistics
import time

from tests.demo.helpers import (
    Service,
    Spawner,
    argv_for,
    base_env,
    get,
    get_json,
    lab_container,
    new_ip,
)


def _start(spawner: Spawner, manifest: str, ip: str, **extra: str) -> tuple[list[str], Service]:
    c = lab_container(manifest)
    argv = argv_for(c)
    svc = spawner.start(argv, {**base_env(ip), **c.env, **extra}, 5002)
    return argv, svc


def _median_latency(url: str, n: int) -> tuple[float, float, float]:
    get(url)  # warm-up: first connection, imports
    times = []
    for _ in range(n):
        started = time.perf_counter()
        status, _, _ = get(url, {"page-source": "home"})
        times.append(time.perf_counter() - started)
        assert status == 200
    return statistics.median(times), min(times), max(times)


def test_versions_differ_in_banner_and_latency_on_the_same_port(spawner: Spawner) -> None:
    ip1, ip2 = new_ip(), new_ip()
    argv1, _ = _start(spawner, "ecommerce-v1/advertisements.yaml", ip1)
    argv2, v2 = _start(spawner, "servicenetwork/advertisements.yaml", ip2)
    # the catalog hands over the image tag and keeps the lab's own command line
    assert argv2[-5:] == ["ddtrace-run", "flask", "run", "--port=5002", "--host=0.0.0.0"]
    assert "--image-tag=2.0" in argv2 and "--image-tag=1.0" in argv1

    ads1 = get_json(f"http://{ip1}:5002/ads", {"page-source": "home"})
    ads2 = get_json(f"http://{ip2}:5002/ads", {"page-source": "products"})
    assert ads1 and all(a["text"].startswith("Version 1.0") for a in ads1)
    assert ads2 and all(a["text"].startswith("Version 2.0") for a in ads2)
    assert {a["version"] for a in ads2} == {"2.0"}

    n = 7
    med1, _, max1 = _median_latency(f"http://{ip1}:5002/ads", n)
    med2, min2, _ = _median_latency(f"http://{ip2}:5002/ads", n)
    assert max1 < 0.05, f"1.0 should answer at once, slowest was {max1 * 1000:.0f} ms"
    assert min2 >= 0.19, f"2.0 adds 200 ms, fastest was {min2 * 1000:.0f} ms"
    assert abs((med2 - med1) - 0.2) <= 0.02, f"p50 difference {(med2 - med1) * 1000:.0f} ms"

    # one access-log line per request, with the page-source header
    time.sleep(0.1)
    lines = [ln for ln in v2.output().splitlines() if '"GET /ads' in ln]
    assert len(lines) == n + 2
    assert sum("page-source=products" in ln for ln in lines) == 1
    assert sum("page-source=home" in ln for ln in lines) == n


def test_banners_and_fallback_data_without_database(spawner: Spawner) -> None:
    ip = new_ip()
    _, svc = _start(spawner, "servicenetwork/advertisements.yaml", ip)
    status, headers, body = get(f"http://{ip}:5002/banners/1.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml"
    assert body.startswith(b"<svg") and b"Version 2.0" in body
    assert get(f"http://{ip}:5002/banners/nope.svg")[0] == 404
    assert get(f"http://{ip}:5002/nothing-here")[0] == 404
    # the lab's POSTGRES_HOST does not resolve here: built-in rows and a warning
    status, headers, _ = get(f"http://{ip}:5002/ads")
    assert status == 200 and headers["X-Data-Source"] == "builtin"
    deadline = time.monotonic() + 5
    while "WARNING database unavailable" not in svc.output():
        assert time.monotonic() < deadline, svc.output()
        time.sleep(0.05)


def test_latency_override_and_port_flag(spawner: Spawner) -> None:
    ip = new_ip()
    argv = [*argv_for(lab_container("ecommerce-v1/advertisements.yaml"))]
    argv[argv.index("--port=5002")] = "--port=5012"
    spawner.start(argv, {**base_env(ip), "TURNOUT_DEMO_LATENCY_MS": "60"}, 5012)
    med, lo, _ = _median_latency(f"http://{ip}:5012/ads", 3)
    assert lo >= 0.055 and med < 0.2
