"""Arms are revisions, versions only name them: `versions`, `compare`, `services`, the JSON API
and the dashboard's route list one row per revision, whatever the version labels say, and the
requests no pod answered (`503 UH`) stay the service's errors, never a version.

The tester's repro: an Argo Rollout `bill` (`DD_SERVICE=billing`, `DD_VERSION=7.0`) whose new
image is 200 ms slower, stable `gpnbvsw5tt`, canary `c2vfccm4cf`, with two startup `503 UH`.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import urllib.error
import urllib.parse
import warnings
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.cli import screen
from turnout.cli import cluster_cmds, telemetry_cmds
from turnout.cluster.state import StateDir
from turnout.kube.errors import ApiError
from turnout.kube.resources import Registry
from turnout.store.db import Store
from turnout.store.objects import Objects
from turnout.telemetry.api import json_api
from turnout.telemetry.service import Telemetry
from turnout.web import queries
from turnout.web.app import WebContext, make_app

from . import helpers as h

with warnings.catch_warnings():  # starlette asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NS, SVC = "idt", "billing"
STABLE, CANARY = "gpnbvsw5tt", "c2vfccm4cf"
CLUSTER = f"outbound|80||{SVC}.{NS}.svc.cluster.local"
N = 150


@dataclass(frozen=True)
class Case:
    id: str
    versions: tuple[str, str]
    """DD_VERSION of the stable and the canary pod ("": none, the revision names it)."""
    labels: tuple[str, str]
    """What every view calls them."""
    lost: int = 0
    """Requests no pod answered (`503 UH`)."""
    ambiguous: str = ""
    """A version name both revisions carry."""


CASES = [
    Case("shared DD_VERSION", ("7.0", "7.0"), (f"7.0@{STABLE}", f"7.0@{CANARY}"),
         lost=2, ambiguous="7.0"),
    Case("distinct versions", ("1.0", "2.0"), ("1.0", "2.0")),
    Case("no version label", ("", ""), (STABLE, CANARY)),
    Case("distinct versions, no upstream", ("1.0", "2.0"), ("1.0", "2.0"), lost=2),
]


def pods(case: Case) -> list[dict[str, object]]:
    out = []
    for i, (rev, version, created) in enumerate(zip(
            (STABLE, CANARY), case.versions, ("2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z"),
            strict=True)):
        p = h.pod(f"bill-{rev}-x{i}", NS, f"127.0.20.{i + 1}", service=SVC, env_version=version,
                  deployment="bill", revision=rev, labels={"app": "bill"})
        p["metadata"]["creationTimestamp"] = created
        out.append(p)
    return out


def lines(case: Case, answered: bool = True) -> list[str]:
    out = []
    kw: dict[str, Any] = {"cluster": CLUSTER, "route": f"svc/{NS}/{SVC}/80", "src_ns": NS,
          "src_name": "loadgen", "path": "/ads"}
    t0 = time.time() - 120
    for i in range(case.lost):  # startup: no endpoint yet
        out.append(h.line(t0 + i, upstream="", status=503, flags="UH", duration=0.5,
                          upstream_ms="-", **kw))
    for i in range(N if answered else 0):
        t = t0 + 10 + i * 0.5
        out.append(h.line(t, upstream="127.0.20.2:8080", duration=1 + 200 + i % 7, **kw))
        out.append(h.line(t + 0.01, upstream="127.0.20.1:8080", duration=1 + i % 7, **kw))
    return out


async def telemetry(tmp_path: Path, case: Case, answered: bool = True) -> Telemetry:
    log = tmp_path / "access.log"
    log.write_text("".join(x + "\n" for x in lines(case, answered)))
    tel = Telemetry(tmp_path / "s", log, metrics_port=None, exporter=None)
    for p in pods(case):
        tel.update_pod(p)
    await tel.flush()
    return tel


def fake_cluster(tel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    def request(self: StateDir, port: int, path: str, **kw: object) -> bytes:
        u = urllib.parse.urlsplit(path)
        q = dict(urllib.parse.parse_qsl(u.query))
        try:
            return json.dumps(json_api(tel, u.path[len(telemetry_cmds.API):], q)).encode()
        except ApiError as e:  # as the API server answers it
            body = io.BytesIO(json.dumps({"message": e.message}).encode())
            raise urllib.error.HTTPError(path, e.code, e.message, Message(), body) from e

    monkeypatch.setattr(cluster_cmds, "running", lambda state: (1, 6443))
    monkeypatch.setattr(StateDir, "request", request)
    monkeypatch.setattr(telemetry_cmds, "out", Console(width=80, color_system=None))
    monkeypatch.setattr(telemetry_cmds, "console",
                        Console(width=200, stderr=True, color_system=None))


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """A command at an 80-column terminal (`fake_cluster`): (exit code, stdout, stderr)."""
    p = argparse.ArgumentParser(prog="turnout")
    p.add_argument("--state-dir")
    telemetry_cmds.register(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    code = args.func(args)
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_one_row_per_revision_named_by_its_version(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tel = await telemetry(tmp_path, case)
    fake_cluster(tel, monkeypatch)
    try:
        # the JSON API: one item per revision, oldest first; the lost requests apart
        doc = json_api(tel, f"services/{NS}/{SVC}/versions", {})
        items = doc["items"]
        assert [v["version"] for v in items] == list(case.labels)
        assert [v["revision"] for v in items] == [STABLE, CANARY]
        assert [v["name"] for v in items] == [v or r for v, r in zip(
            case.versions, (STABLE, CANARY), strict=True)]
        assert [v["requests"] for v in items] == [N, N]
        assert items[0]["p99"] < 20 < 200 < items[1]["p50"]  # not merged
        assert items[1]["previous"] == case.labels[0]
        if case.lost:
            lost = doc["no_upstream"]
            assert (lost["requests"], lost["errors"]) == (case.lost, case.lost)
            assert lost["error_types"] == [{"type": "503 UH GET /ads", "count": case.lost}]
        else:
            assert doc["no_upstream"] is None
        (svc,) = json_api(tel, "services", {})["items"]
        assert svc["versions"] == sorted(case.labels)
        assert svc["requests"] == 2 * N + case.lost  # the service's totals keep them
        assert svc["errors"] == case.lost
        ts = json_api(tel, f"services/{NS}/{SVC}/timeseries", {})
        assert sorted(ts["series"]) == sorted(case.labels)
        assert sum(p["errors"] for p in ts["no_upstream"]) == case.lost

        # the dashboard's route answers the same document
        ctx = WebContext(objects=Objects(Store(None), Registry()), telemetry=tel,
                         token="t", allowed_hosts=frozenset({"127.0.0.1:15000"}))
        web = TestClient(make_app(ctx), base_url="http://127.0.0.1:15000")
        r = web.get(f"/api/telemetry/services/{NS}/{SVC}/versions")
        assert r.status_code == 200 and r.json() == json.loads(json.dumps(doc))
        _, splits = queries.traffic(tel.store, 3600)
        assert sorted(sp["dest_version"] for sp in splits) == sorted(
            [*case.labels, *([queries.NO_UPSTREAM] if case.lost else [])])
        hist = web.get(f"/api/histogram/{NS}/{SVC}?since=1h&version={STABLE}"
                       f"&version={urllib.parse.quote(case.labels[1])}").json()
        assert hist["sample"] == {STABLE: N, case.labels[1]: N}

        # `turnout versions`: newest first, fits 80 columns, no `unknown` row
        code, text, _ = cli(["versions", SVC, "-n", NS], capsys)
        assert code == 0
        screen.assert_fits(text)
        rows = [ln.split("  ")[0].strip() for ln in text.splitlines()
                if ln.startswith(case.labels)]
        assert rows == [case.labels[1], case.labels[0]]
        assert "unknown" not in text
        assert ("no upstream: 2 requests no pod answered (503 UH GET /ads \u00d72)" in text) \
            is bool(case.lost)

        # `turnout compare`: the two latest revisions, the canary (deployed last) as candidate
        code, text, _ = cli(["compare", SVC, "-n", NS], capsys)
        assert code == 0
        screen.assert_fits(text)
        title = " ".join(text.split())
        assert f"{case.labels[0]} (baseline) vs {case.labels[1]} (candidate)" in title
        assert f"{case.labels[1]} is slower: p50 +" in title
        for b, c in ((STABLE, CANARY), case.labels):  # by revision, or by label
            data = json.loads(cli(["compare", SVC, "-n", NS, "-o", "json", "--baseline", b,
                                   "--candidate", c], capsys)[1])
            assert (data["baseline"]["revision"], data["candidate"]["revision"]) == (
                STABLE, CANARY)
            assert data["candidate"]["p50"] > 200 > data["baseline"]["p99"]
        if case.ambiguous:
            code, _, err = cli(["compare", SVC, "-n", NS, "--baseline", case.ambiguous], capsys)
            assert code == 1
            assert (f"version '{case.ambiguous}' names 2 revisions: {STABLE}, {CANARY}"
                    in " ".join(err.split()))
        else:  # a version name only one revision carries is enough
            data = json.loads(cli(["compare", SVC, "-n", NS, "-o", "json", "--candidate",
                                   case.versions[1] or CANARY], capsys)[1])
            assert data["baseline"]["revision"] == STABLE
    finally:
        await tel.stop()


async def test_requests_no_pod_answered_are_never_an_arm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    tel = await telemetry(tmp_path, CASES[0], answered=False)
    fake_cluster(tel, monkeypatch)
    try:
        doc = json_api(tel, f"services/{NS}/{SVC}/versions", {})
        assert doc["items"] == [] and doc["no_upstream"]["requests"] == 2
        (svc,) = json_api(tel, "services", {})["items"]
        assert svc["versions"] == [] and svc["errors"] == 2
        code, text, _ = cli(["versions", SVC, "-n", NS], capsys)
        assert code == 0 and "no upstream: 2 requests" in text and "unknown" not in text
        code, _, err = cli(["compare", SVC, "-n", NS], capsys)
        assert code == 1
        assert "answered a request (2 reached no upstream)" in " ".join(err.split())
    finally:
        await tel.stop()
