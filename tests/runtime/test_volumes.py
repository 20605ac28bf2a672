"""Volume contents and mount plans (pure)."""

from __future__ import annotations

import base64

import pytest

from turnout.runtime import env, volumes
from turnout.runtime.volumes import File, Mount, VolumeError
from turnout.types import Obj

FACTS = env.PodFacts("127.30.0.9", "127.0.0.1", "turnout")
CM: Obj = {"metadata": {"name": "app", "namespace": "default"},
           "data": {"app.properties": "color=blue\n", "mode": "dark"}}
SECRET: Obj = {"metadata": {"name": "creds", "namespace": "default"},
               "data": {"password": base64.b64encode(b"s3cret").decode()}}


def lookup(kind: str, ns: str, name: str) -> Obj | None:
    return {("configmaps", "app"): CM, ("secrets", "creds"): SECRET}.get((kind, name))


def pod(**spec: object) -> Obj:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1",
                         "labels": {"app": "web", "tier": "fe"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "500m"}}}],
                     **spec}}


def test_config_map_every_key_with_default_mode() -> None:
    files = volumes.payload({"name": "v", "configMap": {"name": "app"}}, 0, pod(), FACTS, lookup)
    assert files == [File("app.properties", b"color=blue\n", 0o644), File("mode", b"dark")]


def test_items_pick_keys_paths_and_modes() -> None:
    vol = {"name": "v", "configMap": {"name": "app", "defaultMode": 0o400, "items": [
        {"key": "mode", "path": "conf/mode.txt", "mode": 0o600},
        {"key": "app.properties", "path": "a.properties"}]}}
    assert volumes.payload(vol, 0, pod(), FACTS, lookup) == [
        File("conf/mode.txt", b"dark", 0o600), File("a.properties", b"color=blue\n", 0o400)]


def test_secret_is_decoded() -> None:
    vol = {"name": "s", "secret": {"secretName": "creds", "defaultMode": 256}}
    assert volumes.payload(vol, 0, pod(), FACTS, lookup) == [File("password", b"s3cret", 0o400)]


def test_missing_sources_say_what_like_the_kubelet() -> None:
    with pytest.raises(VolumeError, match='configmap "nope" not found'):
        volumes.payload({"name": "v", "configMap": {"name": "nope"}}, 0, pod(), FACTS, lookup)
    assert volumes.payload({"name": "v", "configMap": {"name": "nope", "optional": True}}, 0,
                           pod(), FACTS, lookup) == []
    with pytest.raises(VolumeError, match="non-existent config key: x"):
        volumes.payload({"name": "v", "configMap": {"name": "app", "items": [
            {"key": "x", "path": "x"}]}}, 0, pod(), FACTS, lookup)


def test_paths_may_not_escape_the_volume() -> None:
    vol = {"name": "v", "configMap": {"name": "app", "items": [
        {"key": "mode", "path": "../etc/passwd"}]}}
    with pytest.raises(VolumeError, match=r"spec.volumes\[0\].configMap.items\[0\].path"):
        volumes.payload(vol, 0, pod(), FACTS, lookup)


def test_downward_api_and_projected() -> None:
    vol = {"name": "info", "projected": {"sources": [
        {"downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "c",
                                                 "resource": "limits.cpu", "divisor": "1m"}}]}},
        {"configMap": {"name": "app", "items": [{"key": "mode", "path": "mode"}]}},
        {"secret": {"name": "creds"}},
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}
    files = {f.path: f.data for f in volumes.payload(vol, 0, pod(), FACTS, lookup)}
    assert files["labels"] == b'app="web"\ntier="fe"'
    assert files["cpu"] == b"500"
    assert files["mode"] == b"dark" and files["password"] == b"s3cret"
    assert files["token"] == volumes.PLACEHOLDER_TOKEN


def test_backing_refuses_host_paths_over_the_state_dir() -> None:
    for path in ("/var/lib/turnout", "/var/lib/turnout/token", "/var/lib", "/"):
        with pytest.raises(VolumeError, match=r"spec.volumes\[2\].hostPath.path: Forbidden"):
            volumes.backing({"name": "h", "hostPath": {"path": path}}, 2, "/var/lib/turnout")
    b = volumes.backing({"name": "h", "hostPath": {"path": "/srv/data/", "type": "Directory"}},
                        0, "/var/lib/turnout")
    assert (b.kind, b.path, b.host_type) == ("host", "/srv/data", "Directory")
    assert volumes.backing({"name": "c", "secret": {}}, 0, "/x").read_only
    with pytest.raises(VolumeError, match="not supported"):
        volumes.backing({"name": "n", "nfs": {"server": "x"}}, 0, "/x")


def test_plan_orders_parents_first_and_applies_sub_paths() -> None:
    container = {"name": "c", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app/conf/app.properties", "subPath": "app.properties"},
        {"name": "data", "mountPath": "/etc/app", "readOnly": True},
        {"name": "logs", "mountPath": "/var/log/$(X)", "subPathExpr": "$(POD)"}]}
    sources = {"cfg": ("/n/cfg", True), "data": ("/n/data", False), "logs": ("/n/logs", False)}
    assert volumes.plan(container, "spec.containers[0]", sources, {"POD": "p1"}) == [
        Mount("/n/data", "/etc/app", True),
        Mount("/n/logs/p1", "/var/log/$(X)", False),
        Mount("/n/cfg/app.properties", "/etc/app/conf/app.properties", True)]


def test_plan_names_the_field_of_an_unknown_volume() -> None:
    with pytest.raises(VolumeError, match=r"spec.containers\[1\].volumeMounts\[0\].name"):
        volumes.plan({"volumeMounts": [{"name": "x", "mountPath": "/x"}]},
                     "spec.containers[1]", {}, {})
