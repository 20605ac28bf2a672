"""What a user types and sees: parse a command line, render a view at a terminal's width and
check that it fits (issue 10)."""

from __future__ import annotations

import argparse
import io
from types import ModuleType

from rich.cells import cell_len
from rich.console import Console, RenderableType

from turnout.cli import output

ELLIPSIS = "\u2026"


def console(width: int = 80) -> Console:
    return Console(width=width, record=True, file=io.StringIO(), color_system=None)


def render(view: RenderableType, *, width: int = 80, wide: bool = False) -> str:
    con = console(width)
    output.show(con, view, wide=wide)
    return con.export_text()


def assert_fits(text: str, width: int = 80) -> None:
    """Nothing cut with "…", no line longer than the terminal."""
    assert ELLIPSIS not in text, text
    long = [line for line in text.splitlines() if cell_len(line.rstrip()) > width]
    assert not long, "\n".join(long)


def header_line(text: str, first: str) -> str:
    """The line of a table's headers, found by its first header."""
    return next(line for line in text.splitlines() if line.startswith(first))


def assert_headers(text: str, *headers: str) -> None:
    """These headers, whole and in this order, on one line."""
    line = header_line(text, headers[0])
    at = [line.find(h) for h in headers]
    assert -1 not in at and at == sorted(at), (headers, line)


def parser(module: ModuleType) -> argparse.ArgumentParser:
    """`turnout` with one command module's commands registered."""
    p = argparse.ArgumentParser(prog="turnout")
    p.add_argument("--state-dir")
    module.register(p.add_subparsers(dest="command"))
    return p
