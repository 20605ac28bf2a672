from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.demo.helpers import (
    Spawner,
    argv_for,
    base_env,
    get,
    get_json,
    lab_container,
    new_ip,
    port_open,
)
from turnout.demo import db, postgres


def _bin_or_skip() -> Path:
    try:
        return postgres.find_bin_dir({"PATH": "/usr/bin:/bin:/usr/local/bin"})
    except postgres.PostgresError as e:
        pytest.skip(f"needs a host PostgreSQL: {e}")


def test_postgres_entry_runs_a_real_server_that_ads_and_discounts_read(
        spawner: Spawner, tmp_path: Path) -> None:
    _bin_or_skip()
    c = lab_container("database/db.yaml")
    argv = argv_for(c)
    assert argv[1:3] == ["-m", "turnout.demo.postgres"]
    pg_ip, ads_ip, disc_ip = new_ip(), new_ip(), new_ip()
    root = tmp_path / "pod-root"
    root.mkdir()
    env = {**base_env(pg_ip), **c.env}
    where = postgres.storage_dir(postgres.data_dir(env, root), postgres.run_as())
    try:
        pg = spawner.start(argv, env, 5432, cwd=root, timeout=60)
        settings = db.Settings(pg_ip, 5432, c.env["POSTGRES_USER"], c.env["POSTGRES_PASSWORD"],
                               c.env["POSTGRES_USER"])
        deadline = time.monotonic() + 30
        while "ready with tables" not in pg.output():
            assert time.monotonic() < deadline and pg.proc.poll() is None, pg.output()
            time.sleep(0.1)
        rows = db.fetch(settings, {}, "SELECT count(*) AS n FROM advertisement", ["n"])
        assert rows == [{"n": 3}]
        conn = db.connect(settings, {})
        try:
            db.run(conn, "INSERT INTO advertisement VALUES (42, 'Row from PostgreSQL', "
                         "'42.svg', 1)")
        finally:
            db.close(conn)

        # the lab's POSTGRES_HOST name, resolved through the Kubernetes service variables
        fast = {"TURNOUT_DEMO_DB_REFRESH": "0.2", "DB_SERVICE_HOST": pg_ip,
                "DB_SERVICE_PORT": "5432"}
        ads_c = lab_container("ecommerce-v1/advertisements.yaml")
        assert ads_c.env["POSTGRES_HOST"] == "db.database.svc.cluster.local"
        spawner.start(argv_for(ads_c), {**base_env(ads_ip), **ads_c.env, **fast}, 5002)
        disc_c = lab_container("ecommerce-v1/discounts.yaml")
        spawner.start(argv_for(disc_c), {**base_env(disc_ip), **disc_c.env, **fast}, 5001)
        deadline = time.monotonic() + 10
        while True:
            _, headers, _ = get(f"http://{ads_ip}:5002/ads")
            if headers.get("X-Data-Source") == "postgres":
                break
            assert time.monotonic() < deadline, "ads never read from PostgreSQL"
            time.sleep(0.1)
        texts = [a["text"] for a in get_json(f"http://{ads_ip}:5002/ads")]
        assert "Version 1.0: Row from PostgreSQL" in texts
        while get(f"http://{disc_ip}:5001/discount")[1].get("X-Data-Source") != "postgres":
            assert time.monotonic() < deadline, "discounts never read from PostgreSQL"
            time.sleep(0.1)
        assert "SPRING20" in [d["code"] for d in get_json(f"http://{disc_ip}:5001/discount")]

        assert spawner.stop(pg) == 0, pg.output()
        assert not port_open(pg_ip, 5432)
    finally:
        if where != postgres.data_dir(env, root):
            shutil.rmtree(where, ignore_errors=True)



def test_orphaned_temp_data_dirs_are_swept(tmp_path: Path) -> None:
    from turnout.demo.postgres import sweep_orphans

    live_pod = tmp_path / "state" / "pods" / "db"
    live_pod.mkdir(parents=True)
    (live_pod / "data").symlink_to(tmp_path / "turnout-postgres-live")
    for name, owner in (("live", live_pod / "data"), ("gone", tmp_path / "deleted" / "data")):
        (tmp_path / f"turnout-postgres-{name}").mkdir()
        (tmp_path / f"turnout-postgres-{name}" / "PG_VERSION").write_text("15")
        (tmp_path / f"turnout-postgres-{name}.owner").write_text(str(owner))
    assert sweep_orphans(tmp_path) == [tmp_path / "turnout-postgres-gone"]
    assert (tmp_path / "turnout-postgres-live" / "PG_VERSION").exists()
    assert not (tmp_path / "turnout-postgres-gone").exists()
