from __future__ import annotations

import json
from pathlib import Path

from turnout.mesh import xds
from turnout.mesh.snapshot import MeshSettings
from turnout.mesh.translate import translate

from . import helpers as h


def test_rds_users_get_file_sources_and_endpoints_go_inline(tmp_path: Path) -> None:
    lay = xds.Layout(tmp_path)
    raw = translate(h.snap(h.seed_objects()))
    config = xds.with_sources(raw, lay)
    name = "outbound|5002|v1|advertisements.ns3.svc.cluster.local"
    cluster = config.clusters[name]
    assert cluster["type"] == "STATIC" and "eds_cluster_config" not in cluster
    assert cluster["load_assignment"]["cluster_name"] == name
    assert cluster["load_assignment"]["endpoints"] == raw.endpoints[name]["endpoints"]
    hcm = config.listeners["pod/ns3/frontend-1"]["filter_chains"][0]["filters"][0]
    src = hcm["typed_config"]["rds"]["config_source"]["path_config_source"]
    assert src == {"path": str(lay.rds("mesh/ns3"))}  # no watched dir: one inotify each
    assert raw.clusters[name]["type"] == "EDS"  # translation itself is untouched


def test_eds_files_mode_points_clusters_at_their_files(tmp_path: Path) -> None:
    lay = xds.Layout(tmp_path)
    config = xds.with_sources(translate(h.snap(h.seed_objects())), lay, eds_files=True)
    name = "outbound|5002|v1|advertisements.ns3.svc.cluster.local"
    eds = config.clusters[name]["eds_cluster_config"]
    assert eds["eds_config"]["path_config_source"] == {"path": str(lay.eds(name))}
    assert eds["service_name"] == name


def test_atomic_write_leaves_no_temp_file_and_versions_follow_content(tmp_path: Path) -> None:
    target = tmp_path / "d" / "cds.json"
    v1, doc = xds.versioned([{"name": "a"}])
    xds.write_atomic(target, doc)
    assert [p.name for p in target.parent.iterdir()] == ["cds.json"]
    assert json.loads(target.read_text())["resources"] == [{"name": "a"}]
    assert xds.read_version(target) == v1
    assert xds.versioned([{"name": "b"}])[0] != v1
    assert xds.read_version(tmp_path / "missing.json") is None


def test_bootstrap_uses_file_sources(tmp_path: Path) -> None:
    lay = xds.Layout(tmp_path)
    boot = xds.bootstrap(lay, MeshSettings(admin_port=0))
    lds = boot["dynamic_resources"]["lds_config"]["path_config_source"]
    assert lds == {"path": str(lay.lds), "watched_directory": {"path": str(lay.lds.parent)}}
    assert boot["admin"]["address"]["socket_address"] == {"address": "127.0.0.1",
                                                          "port_value": 0}


def test_bootstrap_raises_the_re2_program_size_limit_as_istio_does(tmp_path: Path) -> None:
    boot = xds.bootstrap(xds.Layout(tmp_path), MeshSettings(admin_port=0))
    layer = boot["layered_runtime"]["layers"][0]["static_layer"]
    assert layer == {"re2.max_program_size.error_level": 32768}
