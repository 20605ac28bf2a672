"""The pure parts: data and version rules, HTML, command lines, addresses."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from turnout.demo import ads, data, db, pages, postgres, server, storefront


def test_version_rules() -> None:
    assert data.version_from_tag("2.0") == "2.0"
    assert data.version_from_tag("latest") == data.version_from_tag(None) == "1.0"
    assert data.version_from_tag("sha256:abc") == "1.0"
    assert data.ads_latency("2.0") == pytest.approx(0.2) and data.ads_latency("1.0") == 0.0
    assert data.storefront_error_rate("2.0") == pytest.approx(0.02)
    assert data.storefront_error_rate("1.0") == 0.0
    assert data.major("v3.1") == 3 and data.major("beta") == 1


def test_configs_from_the_image_tag_not_dd_version() -> None:
    cfg = ads.config_from(["--image-tag=2.0", "flask", "run"], {"DD_VERSION": "1.0"})
    assert cfg == ads.Config("2.0", pytest.approx(0.2))  # type: ignore[arg-type]
    assert ads.config_from([], {"TURNOUT_DEMO_LATENCY_MS": "50"}).latency == pytest.approx(0.05)
    with pytest.raises(SystemExit, match="TURNOUT_DEMO_LATENCY_MS"):
        ads.config_from([], {"TURNOUT_DEMO_LATENCY_MS": "soon"})
    front = storefront.config_from(["--image-tag=2.0"], {
        "ADS_ROUTE": "http://advertisements", "ADS_PORT": "5002",
        "DISCOUNTS_ROUTE": "http://discounts", "DISCOUNTS_PORT": "5001"})
    assert front.error_rate == pytest.approx(0.02)
    assert front.ads_url == "http://advertisements:5002/ads"
    assert front.discounts_url == "http://discounts:5001/discount"


@pytest.mark.parametrize(("route", "port", "url"), [
    ("http://advertisements", "5002", "http://advertisements:5002/ads"),
    ("advertisements", "5002", "http://advertisements:5002/ads"),
    ("http://advertisements:6000/", "5002", "http://advertisements:6000/ads"),
    ("http://advertisements", "", "http://advertisements/ads"),
])
def test_upstream_url(route: str, port: str, url: str) -> None:
    assert storefront.upstream_url(route, port, "/ads") == url


def test_command_line_parsing() -> None:
    lab = ["ddtrace-run", "flask", "run", "--port=5002", "--host=0.0.0.0"]
    assert server.port_from(lab, 1) == 5002
    assert server.port_from(["sh", "docker-entrypoint.sh"], 3000) == 3000
    assert server.port_from(["--port", "81"], 1) == 81
    with pytest.raises(SystemExit):
        server.port_from(["--port=http"], 1)
    assert server.bind_host({"POD_IP": "127.88.0.9"}) == "127.88.0.9"
    assert server.bind_host({}) == "127.0.0.1"


def test_pages() -> None:
    ad = data.ad_payload([data.ADS[0]], "2.0")[0]
    home = pages.home_page("1.0", ad, list(data.DISCOUNTS))
    assert '<div class="ad-banner" data-version="2.0">Version 2.0: ' in home
    assert 'data-logo="v1"' in home and "SPRING20" in home and "http" not in home.split(
        "<body", 1)[1].replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    product = pages.product_page("2.0", pages.PRODUCTS[0], None, None)
    assert "ad-banner-unavailable" in product and 'data-logo="v2"' in product
    assert "Discounts are unavailable" in product
    evil = pages.ad_banner({"version": '"><x', "text": "<script>"})
    assert "<script>" not in evil and "<x" not in evil


def test_pick_ad_follows_weights() -> None:
    rnd = random.Random(1)
    rows = [{"id": 1, "weight": 3}, {"id": 2, "weight": 1}, {"id": 3, "weight": 0}]
    picks = [pages.pick_ad(rows, rnd)["id"] for _ in range(4000)]
    # Binomial(4000, 0.75): sd 27, so ±150 is > 5 sd
    assert abs(picks.count(1) - 3000) < 150 and picks.count(3) == 0


def test_seed_statements_are_idempotent_inserts() -> None:
    stmts = data.seed_statements()
    assert stmts[0][0].startswith("CREATE TABLE IF NOT EXISTS advertisement")
    inserts = [s for s, _ in stmts if s.startswith("INSERT")]
    assert len(inserts) == len(data.ADS) + len(data.DISCOUNTS)
    assert all(s.endswith("ON CONFLICT (id) DO NOTHING") for s in inserts)


def test_database_addresses() -> None:
    assert db.service_env_name("db.database.svc.cluster.local") == "DB"
    assert db.service_env_name("my-db") == "MY_DB"
    env = {"DB_SERVICE_HOST": "127.90.0.4", "DB_SERVICE_PORT": "5433"}
    assert db.resolve("db.database.svc.cluster.local", 5432, env) == ("127.90.0.4", 5433)
    assert db.resolve("127.0.0.7", 5432, {}) == ("127.0.0.7", 5432)
    with pytest.raises(db.DbUnavailable, match="DB_SERVICE_HOST"):
        db.resolve("db.database.svc.cluster.local", 5432, {})
    assert db.Settings.from_env({}) is None
    s = db.Settings.from_env({"POSTGRES_HOST": "db", "POSTGRES_USER": "user"})
    assert s is not None and (s.database, s.port) == ("user", 5432)
    assert db.password_bytes("\udca5x") == b"\xa5x" and not db.utf8("\udca5")


def test_fallback_table_without_database() -> None:
    logged: list[str] = []
    table = db.CachedTable("t", db.Settings("127.0.0.1", 1, "u", "p", "d"), "SELECT 1", ["a"],
                           [{"a": 1}], lambda _s, m: logged.append(m), {})
    assert table.rows() == ([{"a": 1}], "builtin")
    assert table.refresh_once() is False and table.refresh_once() is False
    assert len(logged) == 1 and "WARNING" in logged[0]  # logged once per state change


def test_postgres_paths(tmp_path: Path) -> None:
    cwd = tmp_path / "root"
    assert postgres.data_dir({"PGDATA": "/var/lib/postgresql/data/mydata"}, cwd) == (
        cwd / "var/lib/postgresql/data/mydata")
    assert postgres.data_dir({}, cwd) == cwd / "var/lib/postgresql/data"
    assert postgres.server_args(["postgres", "-c", "max_connections=20"]) == [
        "-c", "max_connections=20"]
    assert postgres.server_args(["postgres"]) == []
    assert postgres.quote_ident('a"b') == '"a""b"'
    fake = tmp_path / "pg" / "15" / "bin"
    fake.mkdir(parents=True)
    (fake / "initdb").touch()
    (fake / "postgres").touch()
    assert postgres.find_bin_dir({}, roots=[tmp_path / "pg"]) == fake
    with pytest.raises(postgres.PostgresError, match="apt-get install"):
        postgres.find_bin_dir({"PATH": str(tmp_path)}, roots=[tmp_path / "none"])


def test_internal_errors_are_500_and_the_server_keeps_going() -> None:
    import threading
    import urllib.error
    import urllib.request

    def handler(req: server.Request) -> server.Response:
        if req.path == "/boom":
            raise RuntimeError("boom")
        return server.text_response("fine")

    srv = server.make_server("t", handler, "127.0.0.1", 0)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            opener.open(f"http://127.0.0.1:{port}/boom", timeout=5)
        assert e.value.code == 500
        e.value.close()
        with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.read() == b"fine"
    finally:
        srv.shutdown()
        srv.server_close()
