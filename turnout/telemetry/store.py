"""The telemetry database: request records in DuckDB under the cluster's state directory.

Why DuckDB: the questions are columnar (quantiles and counts per service, version, endpoint over
millions of rows). Rows arrive in batches through a CSV file that DuckDB bulk-reads (its Python
`executemany` inserts a few hundred rows a second; a CSV batch, hundreds of thousands). Old rows
are pruned by age and by count. One lock serialises the connection between the ingest thread and
the query callers.

Rows are kept in the order they were stored, which is the order they became known (the access log
is appended when a request ends, and ingested in file order): `KNOWN_ORDER` sorts by it. It is
DuckDB's `rowid`, assigned in append order; deletes (pruning) and the vacuum at a checkpoint
renumber rows but never reorder them, and `preserve_insertion_order` (on, and pinned here) keeps
the CSV batch's order. So a query over a growing window returns what an earlier one returned, in
the same order, followed by what arrived since. No column of its own: databases from an older
turnout were appended in the same order, and their rows sort right too.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb

from turnout.telemetry.records import COLUMNS, Record

_TYPES: dict[str, str] = {
    "ts": "DOUBLE", "status": "INTEGER", "error": "BOOLEAN", "duration_ms": "DOUBLE",
    "upstream_ms": "DOUBLE", "bytes_in": "BIGINT", "bytes_out": "BIGINT",
}
_VARCHAR = [c for c in COLUMNS if c not in _TYPES]
KNOWN_ORDER = "rowid"
"""`ORDER BY` this for rows in the order they became known (stored)."""
_row = attrgetter(*COLUMNS)


def _type(col: str) -> str:
    return _TYPES.get(col, "VARCHAR")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._batch = self.path.with_name(self.path.name + ".batch.csv")
        self.lock = threading.Lock()
        self.con = duckdb.connect(str(self.path))
        self.con.execute("SET preserve_insertion_order = true")
        cols = ", ".join(f"{c} {_type(c)}" for c in COLUMNS)
        self.con.execute(f"CREATE TABLE IF NOT EXISTS requests ({cols})")
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'requests'"
        ).fetchall()}
        for c in COLUMNS:  # a database from an older turnout gains new columns
            if c not in have:
                self.con.execute(f"ALTER TABLE requests ADD COLUMN {c} {_type(c)}")
        columns = "{" + ", ".join(f"'{c}': '{_type(c)}'" for c in COLUMNS) + "}"
        self._read_batch = (
            f"INSERT INTO requests ({', '.join(COLUMNS)}) SELECT * FROM read_csv(?, header=false, "
            f"auto_detect=false, delim=',', quote='\"', escape='\"', columns={columns}, "
            f"force_not_null=[{', '.join(repr(c) for c in _VARCHAR)}])")

    def close(self) -> None:
        with self.lock:
            self.con.close()
        self._batch.unlink(missing_ok=True)

    def insert(self, records: Sequence[Record]) -> int:
        if not records:
            return 0
        with self.lock:
            with self._batch.open("w", newline="") as f:
                csv.writer(f).writerows(map(_row, records))
            self.con.execute(self._read_batch, [str(self._batch)])
            os.unlink(self._batch)
        return len(records)

    def prune(self, before_ts: float, max_rows: int) -> int:
        """Delete rows older than `before_ts`, then the oldest beyond `max_rows`."""
        with self.lock:
            n0 = self._count()
            self.con.execute("DELETE FROM requests WHERE ts < ?", [before_ts])
            n = self._count()
            if n > max_rows:
                row = self.con.execute(
                    "SELECT ts FROM requests ORDER BY ts DESC LIMIT 1 OFFSET ?", [max_rows]
                ).fetchone()
                if row is not None:
                    self.con.execute("DELETE FROM requests WHERE ts <= ?", [row[0]])
                n = self._count()
            return n0 - n

    def _count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM requests").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        with self.lock:
            return self._count()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.con.execute(sql, list(params)).fetchall()
