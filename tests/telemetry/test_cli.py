"""`turnout services|versions|compare` through the JSON API (the cluster's HTTPS is faked)."""

from __future__ import annotations

import argparse
import json
import urllib.parse
from pathlib import Path

import pytest

from turnout.cli import cluster_cmds, telemetry_cmds
from turnout.cluster.state import StateDir
from turnout.telemetry.api import json_api
from turnout.telemetry.service import Telemetry

from . import helpers as h


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="turnout")
    p.add_argument("--state-dir")
    telemetry_cmds.register(p.add_subparsers(dest="command"))
    return p


@pytest.fixture
async def tel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    log = tmp_path / "access.log"
    lines = h.two_versions(300)
    lines += [h.line(upstream="127.0.10.2:5002", path="/ads/9", status=500) for _ in range(5)]
    log.write_text("".join(x + "\n" for x in lines))
    t = Telemetry(tmp_path / "s", log, metrics_port=None, exporter=None)
    for p in h.ads_pods():
        t.update_pod(p)
    await t.flush()

    def request(self: StateDir, port: int, path: str, **kw: object) -> bytes:
        u = urllib.parse.urlsplit(path)
        assert u.path.startswith(telemetry_cmds.API)
        q = dict(urllib.parse.parse_qsl(u.query))
        return json.dumps(json_api(t, u.path[len(telemetry_cmds.API):], q)).encode()

    monkeypatch.setattr(cluster_cmds, "running", lambda state: (1, 6443))
    monkeypatch.setattr(StateDir, "request", request)
    return t


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    telemetry_cmds.out.width = 200
    args = parser().parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


async def test_compare_table_and_json(tel: Telemetry, capsys: pytest.CaptureFixture[str]) -> None:
    text = run(["compare", "advertisements", "-n", "ns1", "--since", "10m"], capsys)
    assert "1.0 (baseline) vs 2.0 (candidate)" in text
    assert "2.0 is slower: p50 +" in text and "95% CI" in text
    assert "500 GET /ads/? (new)" in text
    assert "p99" in text and "requests" in text and "GET /ads/?" in text
    data = json.loads(run(["compare", "advertisements", "-n", "ns1", "-o", "json",
                           "--baseline", "1.0", "--candidate", "2.0"], capsys))
    assert data["candidate"]["requests"] == 305 and data["baseline"]["requests"] == 300
    assert 180 <= data["changes"]["p50"]["change"] <= 220
    await tel.stop()


async def test_services_and_versions(tel: Telemetry, capsys: pytest.CaptureFixture[str]) -> None:
    text = run(["services"], capsys)
    assert "advertisements" in text and "1.0, 2.0" in text
    text = run(["versions", "advertisements", "-n", "ns1"], capsys)
    assert "500 GET /ads/? (5)" in text  # the new error type of 2.0
    assert text.index("2.0") < text.index("1.0")  # newest first
    await tel.stop()


async def test_api_errors_are_printed(tel: Telemetry, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    args = parser().parse_args(["compare", "advertisements", "-n", "ns1", "--candidate", "9"])
    with pytest.raises(Exception, match="no requests recorded for version '9'"):
        args.func(args)  # the fake transport raises ApiError where HTTPS would answer 400
    monkeypatch.setattr(cluster_cmds, "running", lambda state: None)
    assert args.func(args) == 1
    await tel.stop()
