from __future__ import annotations

import pytest

from turnout.runtime import env
from turnout.types import Obj

FACTS = env.PodFacts(pod_ip="127.10.0.7", host_ip="127.0.0.1", node_name="turnout",
                     cpu_capacity=4.0, memory_capacity=8 << 30)
POD: Obj = {
    "metadata": {"name": "ads-1", "namespace": "ns1", "uid": "u-1",
                 "labels": {"version": "1.0"}, "annotations": {"team": "ads"}},
    "spec": {"serviceAccountName": "robot"},
}
OBJECTS: dict[tuple[str, str, str], Obj] = {
    ("secrets", "ns1", "db-password"): {"data": {"pw": "cGFzc3dvcmQ=", "raw": "password"}},
    ("configmaps", "ns1", "settings"): {"data": {"MODE": "fast", "LEVEL": "3"}},
}


def lookup(key: str, namespace: str, name: str) -> Obj | None:
    return OBJECTS.get((key, namespace, name))


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)-$(B)", "1-2"),
    ("$$(A)", "$(A)"),
    ("echo $$HOME $$$$", "echo $HOME $$"),
    ("$$", "$"),
    ("$$$(A)", "$1"),
    ("$(MISSING)", "$(MISSING)"),
    ("$(A", "$(A"),
    ("a$", "a$"),
    ("$x", "$x"),
    ("$()", "$()"),
    ("no refs", "no refs"),
])
def test_expand(text: str, expected: str) -> None:
    assert env.expand(text, {"A": "1", "B": "2"}) == expected


def resolve(container: Obj, base: dict[str, str] | None = None) -> dict[str, str]:
    return env.resolve_env(container, POD, FACTS, lookup, base)


def test_env_sources_and_precedence() -> None:
    container: Obj = {
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
                    {"secretRef": {"name": "db-password"}}],
        "env": [
            {"name": "HOST", "value": "$(SVC_HOST):$(CFG_LEVEL)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db-password", "key": "pw"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings",
                                                               "key": "MODE"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "HOSTIP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "VER", "valueFrom": {"fieldRef": {
                "fieldPath": "metadata.labels['version']"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {
                "fieldPath": "metadata.annotations['team']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "SVC_HOST", "value": "overridden"},
            {"name": "LATER", "value": "$(SVC_HOST)"},
        ],
    }
    out = resolve(container, {"SVC_HOST": "127.20.0.1", "POD_IP": "127.10.0.7"})
    assert out["HOST"] == "127.20.0.1:3"
    assert out["PW"] == "password"
    assert out["CFG_MODE"] == "fast" and out["MODE"] == "fast"
    assert out["IP"] == "127.10.0.7" and out["HOSTIP"] == "127.0.0.1"
    assert (out["NAME"], out["NS"], out["UID"]) == ("ads-1", "ns1", "u-1")
    assert (out["VER"], out["TEAM"], out["NODE"], out["SA"]) == ("1.0", "ads", "turnout", "robot")
    assert out["LATER"] == "overridden"
    assert out["POD_IP"] == "127.10.0.7"


def test_non_utf8_secret_bytes_survive() -> None:
    out = resolve({"env": [{"name": "RAW", "valueFrom": {"secretKeyRef": {
        "name": "db-password", "key": "raw"}}}]})
    assert out["RAW"].encode("utf-8", "surrogateescape") == bytes.fromhex("a5ab2cc28add")


@pytest.mark.parametrize(("ref", "message"), [
    ({"secretKeyRef": {"name": "nope", "key": "pw"}}, 'secret "nope" not found'),
    ({"secretKeyRef": {"name": "db-password", "key": "x"}},
     "couldn't find key x in Secret ns1/db-password"),
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"configMapKeyRef": {"name": "settings", "key": "x"}},
     "couldn't find key x in ConfigMap ns1/settings"),
])
def test_missing_sources_fail_with_kubelet_messages(ref: Obj, message: str) -> None:
    with pytest.raises(env.EnvError) as e:
        resolve({"env": [{"name": "X", "valueFrom": ref}]})
    assert str(e.value) == message


def test_optional_sources_are_skipped() -> None:
    out = resolve({
        "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {
            "name": "nope", "key": "k", "optional": True}}}],
    })
    assert "X" not in out
    with pytest.raises(env.EnvError, match='configmap "gone" not found'):
        resolve({"envFrom": [{"configMapRef": {"name": "gone"}}]})


def test_resource_field_ref() -> None:
    container: Obj = {"resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m"}}}

    def field(resource: str, divisor: str | None = None) -> str:
        ref: Obj = {"resource": resource}
        if divisor:
            ref["divisor"] = divisor
        return env.resource_value(ref, container, FACTS)

    assert field("limits.memory", "1Mi") == "1024"
    assert field("requests.cpu") == "1"
    assert field("requests.cpu", "1m") == "250"
    assert field("limits.cpu") == "4"


def test_command_and_args_expansion() -> None:
    command, args = env.command_line(
        {"command": ["run", "$(PORT)"], "args": ["--host=$(POD_IP)", "$$(POD_IP)"]},
        {"PORT": "5002", "POD_IP": "127.10.0.9"})
    assert command == ["run", "5002"]
    assert args == ["--host=127.10.0.9", "$(POD_IP)"]
    assert env.command_line({}, {}) == (None, None)
