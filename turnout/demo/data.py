"""The demo's data and per-version behaviour (pure, no I/O).

One place holds the rows the database is seeded with and the built-in copy the services fall back
to, so both paths serve the same shop; and the version rules (2.0 ads are 200 ms slower, the 2.0
storefront fails 2 % of pages) that the lab's canary analysis is meant to catch.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from turnout.types import Obj

DEFAULT_VERSION = "1.0"

ADS: tuple[Obj, ...] = (
    {"id": 1, "name": "Free shipping on orders over $50", "url": "1.svg", "weight": 3},
    {"id": 2, "name": "New: the Datadog ringer tee", "url": "2.svg", "weight": 2},
    {"id": 3, "name": "Two mugs for the price of one", "url": "3.svg", "weight": 1},
)

DISCOUNTS: tuple[Obj, ...] = (
    {"id": 1, "name": "Spring sale", "code": "SPRING20", "value": 20, "discount_type": "percent"},
    {"id": 2, "name": "Welcome back", "code": "WELCOME5", "value": 5, "discount_type": "amount"},
    {"id": 3, "name": "Free tote bag", "code": "TOTE", "value": 0, "discount_type": "gift"},
)

SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS advertisement ("
    " id integer PRIMARY KEY, name text NOT NULL, url text NOT NULL, weight integer NOT NULL)",
    "CREATE TABLE IF NOT EXISTS discount ("
    " id integer PRIMARY KEY, name text NOT NULL, code text NOT NULL, value integer NOT NULL,"
    " discount_type text NOT NULL)",
)

ADS_QUERY = "SELECT id, name, url, weight FROM advertisement ORDER BY id"
DISCOUNTS_QUERY = "SELECT id, name, code, value, discount_type FROM discount ORDER BY id"


def insert_statement(table: str, row: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """``INSERT ... ON CONFLICT DO NOTHING`` with named parameters (pg8000 native style)."""
    names = list(row)
    sql = (f"INSERT INTO {table} ({', '.join(names)}) VALUES "
           f"({', '.join(':' + n for n in names)}) ON CONFLICT (id) DO NOTHING")
    return sql, dict(row)


def seed_statements() -> list[tuple[str, dict[str, object]]]:
    """Everything that seeds an empty database: schema, then rows (idempotent)."""
    out: list[tuple[str, dict[str, object]]] = [(sql, {}) for sql in SCHEMA]
    out += [insert_statement("advertisement", row) for row in ADS]
    out += [insert_statement("discount", row) for row in DISCOUNTS]
    return out


def rows_to_dicts(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[Obj]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def version_from_tag(tag: str | None) -> str:
    """The image tag is the version (``2.0``); ``latest``, digests and nothing mean 1.0."""
    if not tag or tag == "latest" or ":" in tag:
        return DEFAULT_VERSION
    return tag


def major(version: str) -> int:
    head = version.lstrip("vV").split(".", 1)[0]
    return int(head) if head.isdigit() else 1


def ads_latency(version: str) -> float:
    """Seconds added to every ads request: version 2.x carries the lab's 200 ms regression."""
    return 0.2 if major(version) >= 2 else 0.0


def storefront_error_rate(version: str) -> float:
    """Share of storefront pages answered with a 500: 2 % from version 2.x on."""
    return 0.02 if major(version) >= 2 else 0.0


def ad_payload(rows: Sequence[Mapping[str, object]], version: str) -> list[Obj]:
    """What ``GET /ads`` returns: the rows plus the banner text that names the version."""
    out = []
    for row in rows:
        item = dict(row)
        item["version"] = version
        item["text"] = f"Version {version}: {row.get('name', '')}"
        item["banner"] = f"/banners/{row.get('url', '')}"
        out.append(item)
    return out


def banner_svg(text: str, version: str) -> str:
    """A 728x90 leaderboard banner; 2.x banners are orange so a screenshot tells them apart."""
    fill = "#f58220" if major(version) >= 2 else "#632ca6"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="728" height="90" viewBox="0 0 728 90">'
        f'<rect width="728" height="90" rx="8" fill="{fill}"/>'
        '<text x="364" y="54" font-family="sans-serif" font-size="26" fill="#fff" '
        f'text-anchor="middle">{html.escape(text)}</text></svg>\n'
    )
