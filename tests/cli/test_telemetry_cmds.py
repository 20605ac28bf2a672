"""`turnout services|versions|compare` fit 80 columns and print readable numbers (issue 10).

Pure: the API's documents are faked, no cluster runs.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import yaml

from turnout.cli import telemetry_cmds as tc
from turnout.types import Obj

from . import screen

NOW = 1_800_000_000.0
QS = ("p50", "p75", "p90", "p95", "p99", "max")


def stats(n: int, error_rate: float, p50: float) -> Obj:
    factors = (1, 1.1, 1.5, 2, 3, 4)
    return {"requests": n, "errors": round(n * error_rate), "error_rate": error_rate,
            "rps": n / 3600, **{q: p50 * f for q, f in zip(QS, factors, strict=True)}}


SERVICES: Obj = {"kind": "ServiceList", "since_seconds": 3600.0, "items": [
    {"namespace": "ingress-nginx", "service": "ingress-nginx-controller",
     "kubernetes_service": "ingress-nginx-controller", "versions": ["1.11.2"],
     **stats(12_345_678, 0.0123, 4321.0)},
    {"namespace": "istio-system", "service": "istio-ingressgateway",
     "kubernetes_service": "istio-ingressgateway", "versions": ["1.24.0"],
     **stats(1200, 0.0, 0.04)},
    {"namespace": "ns1", "service": "advertisements", "kubernetes_service": "advertisements",
     "versions": ["1.0", "2.0", "5d4f8b9c7", "advertisements-7c9d8f6b5"],
     **stats(300, 1.0, 201.0)},
]}


def version(name: str, first: float, last: float, prev: str | None, new: list[Obj],
            **kw: Any) -> Obj:
    return {"version": name, "first_seen": first, "last_seen": last, "previous": prev,
            **stats(**kw), "error_types": new, "new_error_types": new}


VERSIONS: Obj = {"kind": "VersionList", "namespace": "ns1", "service": "advertisements",
                 "since_seconds": None, "items": [
    version("1.0", NOW - 86400 * 3, NOW - 3600, None, [], n=1_000_000, error_rate=0.0,
            p50=31.0),
    version("advertisements-7c9d8f6b5", NOW - 600, NOW - 2, "1.0",
            [{"type": "503 UF GET /api/v1/products/?/reviews", "count": 1234},
             {"type": "500 GET /ads/?", "count": 5}], n=30_000, error_rate=0.0433,
            p50=12345.0),
]}


def change(b: float | None, c: float | None) -> Obj:
    if b is None or c is None:
        return {"baseline": b, "candidate": c, "change": None, "change_pct": None}
    return {"baseline": b, "candidate": c, "change": c - b,
            "change_pct": (c - b) / b * 100 if b else None}


def comparison(b: Obj, c: Obj, cis: dict[str, list[float | None]]) -> Obj:
    return {
        "kind": "Comparison", "namespace": "ns1", "service": "advertisements",
        "since_seconds": 3600.0, "level": 0.95, "baseline": b, "candidate": c,
        "changes": {m: change(b[m], c[m]) for m in ("requests", "rps", "error_rate", *QS)},
        "latency": {"sample": [b["requests"], c["requests"]],
                    "quantiles": [{"name": q, "ci": ci} for q, ci in cis.items()]},
        "errors": {"ci": [-0.0418, 0.0332]},
        "statements": ["2.0 is slower: p50 +200 ms, 95% CI 200\u2013201 ms"],
        "error_types": {"only_candidate": [{"type": "500 GET /ads/?", "count": 5}],
                        "both": [{"type": "503 UF GET /api/v1/products/?/reviews",
                                  "baseline": 1, "candidate": 1234}],
                        "only_baseline": []},
        "endpoints": [{"method": "GET", "endpoint": "/api/v1/products/?/reviews",
                       "baseline": stats(88, 0.0, 0.04), "candidate": stats(112, 0.5, 200.0),
                       "p50": change(0.04, 200.0), "error_rate": change(0.0, 0.5)},
                      {"method": "GET", "endpoint": "/ads/?", "baseline": None,
                       "candidate": stats(5, 1.0, 10.0), "p50": change(None, 10.0),
                       "error_rate": change(None, 1.0)}],
    }


# the lab's figures: a 0.04 ms baseline p50, too few requests for the tail quantiles
COMPARE = comparison(
    {"version": "1.0", **stats(88, 0.0001, 0.04)},
    {"version": "2.0", **stats(112, 0.02, 200.0)},
    {"p50": [199.5, 200.7], "p75": [159.0, None], "p90": [None, -3.2], "p95": [None, None],
     "p99": [-math.inf, math.inf]})


def test_services_fit_80_columns_with_short_headers() -> None:
    text = screen.render(tc.services_table(SERVICES))
    screen.assert_fits(text)
    screen.assert_headers(text, "NAMESPACE", "SERVICE", "VERSIONS", "REQ/S", "ERRORS", "P50",
                          "P99")
    assert "REQUESTS" not in text and "P90" not in text  # -o wide
    assert "4321 ms" in text and "0.04 ms" in text and "100.00%" in text


def test_services_wide_has_every_column() -> None:
    text = screen.render(tc.services_table(SERVICES, wide=True), wide=True)
    assert screen.ELLIPSIS not in text
    screen.assert_headers(text, "NAMESPACE", "SERVICE", "VERSIONS", "REQUESTS", "REQ/S",
                          "ERRORS", "P50", "P90", "P95", "P99", "MAX")
    assert "12345678" in text and "ingress-nginx-controller" in text


def test_versions_fit_80_columns_newest_first_with_ages() -> None:
    text = screen.render(tc.versions_table(VERSIONS, NOW))
    screen.assert_fits(text)
    screen.assert_headers(text, "VERSION", "AGE", "LAST SEEN", "REQ/S", "ERRORS", "P50", "P99",
                          "NEW ERROR TYPES")
    assert "FIRST" not in text and "P75" not in text
    assert text.index("advertisements") < text.index("1.0 ")
    assert "3d" in text and "60m" in text and "10m" in text and "2s" in text
    assert "(1234)" in text and "12345 ms" in text
    assert "all retained" in text and "last all" not in text


def test_versions_wide_has_every_quantile() -> None:
    text = screen.render(tc.versions_table(VERSIONS, NOW, wide=True), wide=True)
    assert screen.ELLIPSIS not in text
    screen.assert_headers(text, "VERSION", "AGE", "LAST SEEN", "REQUESTS", "REQ/S", "ERRORS",
                          *(q.upper() for q in QS), "NEW ERROR TYPES")


def test_compare_fits_80_columns_and_its_numbers_read() -> None:
    text = screen.render(tc.compare_view(COMPARE))
    screen.assert_fits(text)
    screen.assert_headers(text, "METRIC", "1.0", "2.0", "CHANGE", "95% CI")
    screen.assert_headers(text, "ERROR TYPE", "1.0", "2.0")
    screen.assert_headers(text, "ENDPOINT", "REQUESTS", "P50", "CHANGE")
    assert "\u221e" not in text and "inf" not in text and "nan" not in text
    assert "%" not in "".join(x for x in text.split() if x.startswith("(+") and len(x) > 7)
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "+200 ms (>10\u00d7)" in rows["p50"] and "+200 to +201 ms" in rows["p50"]
    assert "\u2265 +159 ms" in rows["p75"] and "\u2264 -3.2 ms" in rows["p90"]
    assert rows["p95"].endswith("n/a (too few requests)")
    assert rows["p99"].endswith("n/a (too few requests)")
    assert "+1.99 pts (>10\u00d7)" in text and "-4.18 to +3.32 pts" in text
    assert "+24 (+27%)" in rows["requests"]
    assert "0.04 \u2192 200 ms" in text and "- \u2192 10.0 ms" in text
    assert "2.0 is slower" in text


def test_compare_names_long_versions_by_role() -> None:
    data = comparison({"version": "advertisements-5d4f8b9c7", **stats(88, 0.0, 30.0)},
                      {"version": "advertisements-7c9d8f6b5", **stats(112, 0.0, 31.0)}, {})
    text = screen.render(tc.compare_view(data))
    screen.assert_fits(text)
    screen.assert_headers(text, "METRIC", "BASELINE", "CANDIDATE", "CHANGE", "95% CI")
    assert "advertisements-5d4f8b9c7 (baseline)" in " ".join(text.split())


def test_compare_wide_adds_endpoint_errors() -> None:
    text = screen.render(tc.compare_view(COMPARE, wide=True), wide=True)
    assert screen.ELLIPSIS not in text
    screen.assert_headers(text, "ENDPOINT", "REQUESTS", "ERRORS", "P50", "CHANGE")
    assert "0.00% \u2192 50.00%" in text


def test_cells_without_a_finite_number_show_a_dash() -> None:
    assert tc.ms(math.nan) == tc.ms(None) == tc.ms(math.inf) == "-"
    assert tc.pct(math.nan) == tc.rps(None) == tc.age(NOW, None) == "-"
    assert tc._change_cell(change(0.0, 0.0), "ms").plain == "0.00 ms"
    assert tc._change_cell({"change": math.nan}, "ms").plain == "-"
    assert tc._change_cell(change(100.0, 104.0), "ms").style == ""  # under 5 %: not red
    assert tc._change_cell(change(100.0, 140.0), "ms").style == "red"


@pytest.mark.parametrize(("argv", "data"), [
    (["services"], SERVICES), (["versions", "advertisements", "-n", "ns1"], VERSIONS),
    (["compare", "advertisements", "-n", "ns1"], COMPARE)])
@pytest.mark.parametrize("fmt", ["json", "yaml", "wide", "table"])
def test_every_command_prints_every_format(argv: list[str], data: Obj, fmt: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    con = screen.console()
    monkeypatch.setattr(tc, "out", con)
    monkeypatch.setattr(tc, "fetch", lambda args, path, query: data)
    args = screen.parser(tc).parse_args([*argv, "-o", fmt])
    assert args.func(args) == 0
    text = con.export_text()
    if fmt == "json":
        assert json.loads(text) == json.loads(json.dumps(data))  # NaN-free, shape unchanged
    elif fmt == "yaml":
        assert yaml.safe_load(text) == data
    else:
        assert screen.ELLIPSIS not in text
        if fmt == "table":
            screen.assert_fits(text)
