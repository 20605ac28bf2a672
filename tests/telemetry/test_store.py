"""The telemetry store keeps rows in the order they became known, through pruning, DuckDB's
vacuum at a checkpoint, and a restart."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from turnout.telemetry.identity import Directory
from turnout.telemetry.records import Record, parse_line
from turnout.telemetry.store import KNOWN_ORDER, Store

from . import helpers as h


def template() -> Record:
    d = Directory()
    for p in h.ads_pods():
        d.update(p, 0)
    r = parse_line(h.line(1_700_000_000.0), d)
    assert r is not None
    return r


def known(store: Store) -> list[str]:
    return [str(r[0]) for r in store.query(
        f"SELECT request_id FROM requests ORDER BY {KNOWN_ORDER}")]


def test_rows_keep_the_order_they_were_stored_in(tmp_path: Path) -> None:
    base = template()
    rnd = random.Random(3)
    store = Store(tmp_path / "t.duckdb")
    seq = 0
    order: list[str] = []

    def batch(n: int) -> None:
        nonlocal seq
        rows = []
        for _ in range(n):  # start times out of order, as long requests end after short ones
            rows.append(dataclasses.replace(base, ts=1_700_000_000.0 + rnd.uniform(0, 1000),
                                            request_id=f"r{seq}"))
            order.append(f"r{seq}")
            seq += 1
        store.insert(rows)

    for i in range(12):
        batch(3000)
        if i % 4 == 3:  # prune leaves holes everywhere; a checkpoint vacuums them
            store.prune(1_700_000_000.0 + 100 * i, 10**9)
            store.query("CHECKPOINT")
            kept = set(known(store))
            order = [x for x in order if x in kept]
    assert known(store) == order
    store.close()
    store = Store(tmp_path / "t.duckdb")  # a restart appends after what was stored
    batch(100)
    assert known(store) == order
    assert known(store)[-1] == f"r{seq - 1}"
    store.close()
