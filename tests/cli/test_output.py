"""kubectl-style tables and the -o json|yaml|wide option shared by the list commands."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml

from turnout.cli import output

from . import screen

COLUMNS = (output.Column("NAMESPACE"), output.Column("NAME"),
           output.Column("REQUESTS", numeric=True, wide=True),
           output.Column("P99", numeric=True), output.Column("MESSAGE"))
ROW = ("ingress-nginx", "ingress-nginx-controller-with-a-long-name", "1234567", "12345 ms",
       "a long message that has to wrap onto more lines than one in an 80-column terminal, "
       "because nothing may be cut")


def test_table_never_cuts_a_header_or_a_cell_at_80_columns() -> None:
    text = screen.render(output.table(COLUMNS, [ROW] * 2))
    screen.assert_fits(text)
    screen.assert_headers(text, "NAMESPACE", "NAME", "P99", "MESSAGE")
    assert "REQUESTS" not in text
    assert "12345 ms" in text  # a number column is never wrapped
    shown = (*(c.header for c in COLUMNS if not c.wide), *(ROW[:2] + ROW[3:]) * 2)
    assert _ink(text) == _ink(" ".join(shown))  # long cells fold: not one character lost


def _ink(text: str) -> int:
    return len("".join(text.split()))


def test_wide_shows_every_column_and_may_pass_the_edge() -> None:
    text = screen.render(output.table(COLUMNS, [ROW], wide=True), width=40, wide=True)
    assert screen.ELLIPSIS not in text
    screen.assert_headers(text, "NAMESPACE", "NAME", "REQUESTS", "P99", "MESSAGE")
    assert ROW[4] in text  # at its natural width: one line, like kubectl -o wide


def test_narrow_wide_output_still_prints_normally() -> None:
    text = screen.render(output.table(COLUMNS[:2], [ROW[:2]], wide=True), wide=True)
    assert text.splitlines()[1].split() == list(ROW[:2])


DATA = {"kind": "ServiceList", "since_seconds": 3600.0,
        "items": [{"namespace": "ns1", "service": "advertisements", "versions": ["1.0", "2.0"],
                   "p99": None, "note": "caf\u00e9 \u2192 200 ms"}]}


@pytest.mark.parametrize(("fmt", "load"), [("json", json.loads), ("yaml", yaml.safe_load)])
def test_data_formats_print_the_document_unchanged(fmt: str, load: object) -> None:
    con = screen.console(width=20)
    output.emit(con, fmt, DATA, lambda wide: pytest.fail("no table for -o " + fmt))
    assert callable(load) and load(con.export_text()) == DATA


def test_json_is_indented_as_before() -> None:
    con = screen.console()
    output.dump(con, "json", {"a": [1]})
    assert con.export_text() == '{\n  "a": [\n    1\n  ]\n}\n'


def test_emit_passes_wide_to_the_view() -> None:
    seen: list[bool] = []

    def view(wide: bool) -> output.Fitted:
        seen.append(wide)
        return output.table(COLUMNS, [])

    for fmt in ("table", "wide"):
        output.emit(screen.console(), fmt, DATA, view)
    assert seen == [False, True]


def test_output_option() -> None:
    p = argparse.ArgumentParser()
    output.add_output_option(p)
    assert p.parse_args([]).output == "table"
    assert p.parse_args(["-o", "wide"]).output == "wide"
    assert p.parse_args(["--output", "yaml"]).output == "yaml"
    q = argparse.ArgumentParser()
    output.add_output_option(q, wide=False)
    with pytest.raises(SystemExit):
        q.parse_args(["-o", "wide"])
    assert all(a.help for a in (*p._actions, *q._actions))
