"""`turnout analyze`: findings fit 80 columns; -o wide|json|yaml (issue 10). No cluster runs."""

from __future__ import annotations

import json

import pytest
import yaml

from turnout.cli import mesh_cmds
from turnout.mesh import analyze
from turnout.mesh.analyze import Finding

from . import screen

FINDINGS = [
    Finding("IST0101", "Error", "VirtualService", "ns3", "advertisements-header-routing",
            'Referenced host+subset in destinationrule not found: "advertisements+v3"',
            "spec.http[0].route[0].destination"),
    Finding("IST0102", "Warning", "Namespace", "", "ns-without-the-istio-injection-label",
            "The namespace is not enabled for Istio injection. Run 'kubectl label namespace "
            "ns-without-the-istio-injection-label istio-injection=enabled' to enable it"),
    Finding("IST0173", "Info", "DestinationRule", "ns3", "ads",
            'The Subset "v2" selects no pods', "spec.subsets[1]"),
]


def test_findings_fit_80_columns() -> None:
    text = screen.render(mesh_cmds.findings_table(FINDINGS))
    screen.assert_fits(text)
    screen.assert_headers(text, "LEVEL", "CODE", "RESOURCE", "MESSAGE")
    assert "FIELD" not in text
    flat = "".join(text.split())
    assert "(spec.http[0].route[0].destination)" in flat  # as text, not Rich markup
    assert "[green]" not in text


def test_findings_wide_has_the_field_column() -> None:
    text = screen.render(mesh_cmds.findings_table(FINDINGS, wide=True), wide=True)
    assert screen.ELLIPSIS not in text
    screen.assert_headers(text, "LEVEL", "CODE", "RESOURCE", "FIELD", "MESSAGE")
    assert "(spec.subsets[1])" not in text and "spec.subsets[1]" in text


def run(argv: list[str], findings: list[Finding],
        monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    con = screen.console()
    monkeypatch.setattr(mesh_cmds, "out", con)
    monkeypatch.setattr(mesh_cmds, "snapshot", lambda state: None)
    monkeypatch.setattr(analyze, "analyze", lambda snap: findings)
    args = screen.parser(mesh_cmds).parse_args(argv)
    return args.func(args), con.export_text()


@pytest.mark.parametrize(("fmt", "load"), [("json", json.loads), ("yaml", yaml.safe_load)])
def test_analyze_prints_a_finding_list(fmt: str, load: object,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = run(["analyze", "-n", "ns3", "-o", fmt], FINDINGS, monkeypatch)
    assert code == 1  # an Error, whatever the format
    assert callable(load)
    doc = load(text)
    assert doc["kind"] == "FindingList"
    assert [f["code"] for f in doc["items"]] == ["IST0101", "IST0173"]  # only ns3's
    assert doc["items"][0]["field"] == "spec.http[0].route[0].destination"
    code, text = run(["analyze", "-o", fmt], [], monkeypatch)
    assert code == 0 and load(text) == {"kind": "FindingList", "items": []}


def test_analyze_table_and_no_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = run(["analyze", "-A"], FINDINGS, monkeypatch)
    assert code == 1 and "IST0102" in text
    screen.assert_fits(text)
    code, text = run(["analyze", "-n", "ns3"], FINDINGS[2:], monkeypatch)
    assert code == 0 and "IST0173" in text
    code, text = run(["analyze", "-n", "ns3"], [], monkeypatch)
    assert code == 0 and "No validation issues found when analyzing namespace ns3" in text
