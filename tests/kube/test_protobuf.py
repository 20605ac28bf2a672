"""Decoding kubectl's protobuf request bodies.

The fixtures under fixtures/protobuf/ are real bodies captured from kubectl 1.37 (the wheel's)
and kubectl 1.32 (the gcloud dispatcher) by fixtures/protobuf/capture.py, each with the
`--dry-run=client -o json` output of the same command. Normalisation: none for kubectl 1.32,
whose JSON is matched exactly; kubectl >= 1.34 leaves `creationTimestamp: null` out (Go
`omitzero`) while the decoder writes it, so for 1.37 keys whose value is null are dropped from
both sides (null and absent mean the same to the API).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from turnout.kube.errors import ApiError
from turnout.kube.protobuf import (
    MAGIC,
    decode,
    decode_delete_options,
    decode_message,
    go_duration,
    is_protobuf,
    message_for,
    schema_source,
)

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
CASES = sorted(p.stem for p in FIXTURES.glob("*__*.json"))


def _meta(case: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{case}.json").read_text())
    return loaded


def _body(case: str) -> bytes:
    return (FIXTURES / f"{case}.pb").read_bytes()


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# ---- a tiny encoder to build messages by hand ---------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _f(number: int, value: int | bytes | str) -> bytes:
    """One field: ints as varints, bytes/str length-delimited."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    type_meta = _f(1, api_version) + _f(2, kind)
    body = _f(1, type_meta) + _f(2, raw)
    if encoding:
        body += _f(3, encoding)
    return MAGIC + body


# ---- captured kubectl bodies --------------------------------------------------------------------

def test_fixtures_cover_both_kubectls() -> None:
    assert any(c.startswith("k137__") for c in CASES)
    assert any(c.startswith("k132__") for c in CASES)
    assert len(CASES) >= 40


PROTOBUF_CREATES = [c for c in CASES if _meta(c)["dryRun"] is not None and "__run" not in c]


def test_every_create_subcommand_sends_protobuf() -> None:
    assert len(PROTOBUF_CREATES) == 36
    for case in PROTOBUF_CREATES:
        meta = _meta(case)
        assert is_protobuf(meta["contentType"]), f"{meta['argv']}: {meta['contentType']}"
        assert meta["method"] == "POST"


@pytest.mark.parametrize("case", PROTOBUF_CREATES)
def test_decode_matches_dry_run_json(case: str) -> None:
    meta = _meta(case)
    got = decode(_body(case))
    if meta["kubectl"].startswith("v1.32."):
        assert got == meta["dryRun"]
    else:
        assert _drop_nulls(got) == _drop_nulls(meta["dryRun"])


@pytest.mark.parametrize("tag", ["k137", "k132"])
def test_commands_that_send_json(tag: str) -> None:
    # `kubectl run` (unstructured helper) and drain's evictions are JSON: no decoding needed.
    for case in ("run", "drain_evict"):
        meta = _meta(f"{tag}__{case}")
        assert meta["contentType"] == "application/json"
        assert json.loads(_body(f"{tag}__{case}"))["kind"] in ("Pod", "Eviction")


@pytest.mark.parametrize("tag", ["k137", "k132"])
def test_create_token_request(tag: str) -> None:
    meta = _meta(f"{tag}__token")
    assert meta["path"].startswith("/api/v1/namespaces/default/serviceaccounts/robot/token")
    assert decode(_body(f"{tag}__token")) == {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "metadata": {"creationTimestamp": None},
        "spec": {"audiences": ["api"], "expirationSeconds": 9000},
        "status": {"expirationTimestamp": None},
    }


@pytest.mark.parametrize("tag", ["k137", "k132"])
def test_drain_disable_eviction_sends_delete_options(tag: str) -> None:
    meta = _meta(f"{tag}__drain_delete")
    assert meta["method"] == "DELETE" and is_protobuf(meta["contentType"])
    # gracePeriodSeconds is a Go pointer: its zero must survive (0 = delete now).
    assert decode_delete_options(_body(f"{tag}__drain_delete")) == {
        "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}


def test_pointer_zero_survives_and_secret_bytes_are_base64() -> None:
    zero = decode(_body("k137__deployment_zero"))
    assert zero["spec"]["replicas"] == 0
    secret = decode(_body("k132__secret"))
    assert base64.b64decode(secret["data"]["pw"]).decode() == "p@ss:\u00e9"


# ---- hand-built messages: special types ---------------------------------------------------------

def test_times_intorstring_quantity_and_inline_structs() -> None:
    meta = (_f(1, "p") + _f(8, _f(1, 1767323045)) + _f(9, _f(1, 0))
            + _f(10, 0) + _f(7, 0) + _f(3, ""))
    probe = _f(1, _f(2, _f(1, "/healthz") + _f(2, _f(1, 1) + _f(3, "http")))) + _f(2, 0)
    container = (_f(1, "c") + _f(2, "img") + _f(11, probe)
                 + _f(6, _f(1, "p") + _f(3, 8080) + _f(4, "")))
    volume = _f(1, "scratch") + _f(2, _f(2, _f(2, _f(1, "64Mi"))))
    spec = _f(1, volume) + _f(2, container) + _f(21, 0) + _f(11, 0) + _f(99, "future")
    got = decode(_envelope("v1", "Pod", _f(1, meta) + _f(2, spec)))
    assert got["metadata"] == {"name": "p", "creationTimestamp": "2026-01-02T03:04:05Z",
                               "deletionTimestamp": "1970-01-01T00:00:00Z",
                               "deletionGracePeriodSeconds": 0}
    assert got["spec"] == {
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}],
        "containers": [{"name": "c", "image": "img",
                        "ports": [{"name": "p", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}}],
        "automountServiceAccountToken": False,
    }


def test_micro_time_duration_negative_ints_and_raw_json() -> None:
    event = (_f(1, _f(1, "e")) + _f(2, _f(1, 1767323045) + _f(2, 123_456_000))
             + _f(15, -3) + _f(13, b""))
    got = decode(_envelope("events.k8s.io/v1", "Event", event))
    assert got == {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
                   "eventTime": "2026-01-02T03:04:05.123456Z", "deprecatedCount": -3,
                   "deprecatedFirstTimestamp": None}
    metrics = _f(1, _f(1, "m")) + _f(3, _f(1, 90_500_000_000))
    assert decode(_envelope("metrics.k8s.io/v1beta1", "PodMetrics", metrics))["window"] == \
        "1m30.5s"
    revision = _f(1, _f(1, "r")) + _f(2, _f(1, b'{"spec": {"x": [1, 2]}}')) + _f(3, 7)
    assert decode(_envelope("apps/v1", "ControllerRevision", revision)) == {
        "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"},
        "data": {"spec": {"x": [1, 2]}}, "revision": 7}


def test_managed_fields_and_packed_repeated() -> None:
    entry = _f(1, "kubectl") + _f(7, _f(1, b'{"f:metadata":{}}')) + _f(4, b"")
    meta = _f(1, "n") + _f(17, entry)
    got = decode_message(meta, "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    assert got["managedFields"] == [{"manager": "kubectl", "fieldsV1": {"f:metadata": {}},
                                     "time": None}]
    packed = _varint(1 << 3 | 2) + _varint(3) + bytes([80, 0x90, 0x03])  # 80, 400
    options = decode_message(packed, "k8s.io.api.core.v1.PodPortForwardOptions")
    assert options == {"ports": [80, 400]}


@pytest.mark.parametrize(("nanos", "text"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (150_000_000, "150ms"), (2_000_000_000, "2s"),
    (3_723_000_000_000, "1h2m3s"), (3_600_000_000_000, "1h0m0s"), (-90_000_000_000, "-1m30s"),
])
def test_go_duration(nanos: int, text: str) -> None:
    assert go_duration(nanos) == text


def test_schema_lookup_and_content_type() -> None:
    assert message_for("v1", "Namespace") == "k8s.io.api.core.v1.Namespace"
    assert message_for("apps/v1", "Deployment") == "k8s.io.api.apps.v1.Deployment"
    assert message_for("policy/v1", "DeleteOptions") == \
        "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    assert message_for("example.com/v1", "Widget") is None
    assert schema_source().startswith("kubectl v1.")
    assert is_protobuf("application/vnd.kubernetes.protobuf; charset=x")
    assert not is_protobuf("application/json")


# ---- errors -------------------------------------------------------------------------------------

def _bad(body: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode(body)
    assert caught.value.code == 400 and caught.value.reason == "BadRequest"
    return caught.value


def test_errors_are_400_bad_request() -> None:
    assert "magic" in _bad(b'{"kind": "Namespace"}').message
    body = _body("k132__deployment")
    assert "truncated" in _bad(body[:-5]).message
    assert "truncated" in _bad(body[:9]).message
    assert 'no kind "Widget"' in _bad(_envelope("example.com/v1", "Widget", b"")).message
    assert "contentEncoding" in _bad(_envelope("v1", "Namespace", b"", "gzip")).message
    assert "no kind" in _bad(MAGIC + _f(2, b"")).message
    assert "wire type" in _bad(_envelope("v1", "Namespace", _f(1, 5))).message
    assert "UTF-8" in _bad(_envelope("v1", "Namespace", _f(1, _f(1, b"\xff")))).message
    with pytest.raises(ApiError, match="expected DeleteOptions"):
        decode_delete_options(_body("k132__namespace"))
