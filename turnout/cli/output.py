"""How commands print: kubectl-style tables that fit an 80-column terminal, or the data itself.

Issue 10: Rich's boxed tables squeezed every column of a wide table until the headers read
"NAMESPA…". Tables here are drawn the way kubectl draws them — no borders, short headers, a few
columns by default and the rest with `-o wide` — and never cut a header or a cell: a header is
as wide as its text, a text column folds a long value onto a second line, a number column never
wraps. `-o wide` may run past the terminal's edge, as kubectl's does. `-o json` and `-o yaml`
print the API's document unchanged, for scripts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

Cell = str | Text
WIDE = "wide"
DATA_FORMATS = ("json", "yaml")


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool = False
    """Right-aligned and never wrapped."""
    wide: bool = False
    """Shown only with `-o wide` (kubectl's priority-1 columns)."""
    min_width: int = 0
    """A text column folded only below this width (or its cells' own): a name people copy."""


def add_output_option(p: argparse.ArgumentParser, *, wide: bool = True) -> None:
    """`-o/--output`: table (default), wide when the table has more columns, json, yaml."""
    choices = ("table", WIDE, *DATA_FORMATS) if wide else ("table", *DATA_FORMATS)
    extra = ", wide (more columns)" if wide else ""
    p.add_argument("-o", "--output", choices=choices, default="table",
                   help=f"output format: table (default){extra}, json or yaml")


def table(columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, wide: bool = False,
          title: str | None = None) -> Fitted:
    """A borderless table of the columns this mode shows; each row has a cell for every column.

    A `str` cell is text as it is (no Rich markup); pass `Text` for colour.
    """
    keep = [i for i, c in enumerate(columns) if wide or not c.wide]
    t = Table(box=None, pad_edge=False, header_style="bold", title=title,
              title_justify="left", title_style="bold")
    for i in keep:
        c = columns[i]
        t.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=c.numeric,
                     overflow="fold", min_width=len(c.header))
    for row in rows:
        t.add_row(*(_text(row[i]) for i in keep))
    return Fitted(t, [columns[i].min_width for i in keep])


class Fitted:
    """A table whose text columns share the width the number columns leave, fairly, and never
    below their header's width (nor, while every header fits, a column's `min_width`).

    Rich's own shrinking (`Table._collapse_widths`) ignores `min_width` and the console then
    crops what overflows, silently: a header lost its last letters and a folded cell its
    middle. Here each text column gets its natural width if it fits, else an equal share of
    what is left after every header (narrow columns first, so a wide one takes what they do
    not need).
    """

    def __init__(self, table: Table, min_widths: Sequence[int] = ()) -> None:
        self.table = table
        self.min_widths = list(min_widths) or [0] * len(table.columns)
        self.natural = [max([_width(col.header), *(_width(c) for c in col.cells)])
                        for col in table.columns]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        self._fit(None)
        return Measurement.get(console, options, self.table)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self._fit(options.max_width)
        yield self.table

    def _fit(self, width: int | None) -> None:
        cols = self.table.columns
        text = [i for i, c in enumerate(cols) if not c.no_wrap]
        for i in text:
            cols[i].width = None
        if width is None or not text:
            return
        gaps = 2 * (len(cols) - 1)
        budget = width - gaps - sum(n for i, n in enumerate(self.natural) if i not in text)
        if sum(self.natural[i] for i in text) <= budget:
            return
        floors = {i: _width(cols[i].header) for i in text}
        wanted = {i: min(self.natural[i], max(floors[i], self.min_widths[i])) for i in text}
        if sum(wanted.values()) <= budget:
            floors = wanted
        extra = budget - sum(floors.values())
        for k, i in enumerate(sorted(text, key=lambda i: self.natural[i] - floors[i])):
            grant = min(self.natural[i] - floors[i], max(0, extra) // (len(text) - k))
            cols[i].width = floors[i] + grant
            extra -= grant


def _text(cell: Cell) -> Text:
    return Text(cell) if isinstance(cell, str) else cell


def _width(cell: object) -> int:
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    return max((cell_len(line) for line in plain.splitlines()), default=0)


def sections(*parts: RenderableType) -> Group:
    """A view of several parts with a blank line between them, as kubectl separates kinds."""
    return Group(*(x for i, part in enumerate(parts) for x in ((Text(""), part) if i else (part,))))


def show(console: Console, renderable: RenderableType, *, wide: bool = False) -> None:
    """Print a view; in wide mode at its natural width even past the terminal's edge."""
    if wide:
        natural = Measurement.get(console, console.options.update_width(10_000),
                                  renderable).maximum
        if natural > console.width:
            options = console.options.update_width(natural)
            console.print(Segments(console.render(renderable, options)), crop=False)
            return
    console.print(renderable)


def dump(console: Console, output: str, data: Any) -> None:
    """Print `data` as JSON (indented, as `-o json` always has) or YAML."""
    if output == "json":
        console.print_json(json.dumps(data))
    else:
        console.out(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="",
                    highlight=False)


def emit(console: Console, output: str, data: Any,
         view: Callable[[bool], RenderableType]) -> None:
    """The one exit of a list command: `data` for json/yaml, else `view(wide)` as a table."""
    if output in DATA_FORMATS:
        dump(console, output, data)
    else:
        show(console, view(output == WIDE), wide=output == WIDE)
