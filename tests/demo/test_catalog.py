from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.demo.helpers import LAB, demo_catalog_
from turnout.demo import catalog as demo_catalog
from turnout.runtime.catalog import Catalog, entry_from_dict


def _lab_containers() -> list[tuple[str, dict[str, Any]]]:
    if not LAB.is_dir():
        pytest.skip(f"the lab's manifests are not under {LAB}")
    found = []
    for path in sorted(LAB.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec") or {}
            for c in spec.get("containers") or []:
                found.append((str(path.relative_to(LAB)), c))
    return found


EXPECTED = {
    "arapulido/ads-service": "turnout.demo.ads",
    "arapulido/frontend": "turnout.demo.storefront",
    "ddtraining/discounts-fixed": "turnout.demo.discounts",
    "ddtraining/traffic-replay": "turnout.demo.traffic",
    "postgres": "turnout.demo.postgres",
    "ingress-nginx/controller": "turnout.demo.ingress",
    "kube-webhook-certgen": "turnout.demo.ingress",
}


def test_every_lab_image_of_ours_resolves_to_its_module() -> None:
    cat = demo_catalog_()
    seen = set()
    for where, c in _lab_containers():
        image = str(c["image"]).strip()
        key = next((k for k in EXPECTED if k in image), None)
        if key is None:
            assert cat.find(image) is None, f"{where}: {image} should not be ours"
            continue
        seen.add(key)
        launch = cat.resolve(image, c.get("command"), c.get("args"))
        assert launch.argv[1:3] == ["-m", EXPECTED[key]], (where, launch.argv)
        # the container's own command line follows, untouched
        tail = [*(c.get("command") or []), *(c.get("args") or [])]
        assert launch.argv[len(launch.argv) - len(tail):] == tail
        assert launch.env["PYTHONUNBUFFERED"] == "1"
    assert seen == set(EXPECTED)


@pytest.mark.parametrize(("image", "extra"), [
    ("arapulido/ads-service:2.0", ["--image-tag=2.0"]),
    ("docker.io/arapulido/ads-service:1.0", ["--image-tag=1.0"]),
    ("arapulido/frontend:2.0", ["--image-tag=2.0"]),
    ("arapulido/ads-service:3.1", ["--image-tag=3.1"]),
    ("k8s.gcr.io/ingress-nginx/controller:v0.47.0@sha256:" + "a" * 64, ["controller"]),
    ("registry.k8s.io/ingress-nginx/controller:v1.10.0", ["controller"]),
    ("registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.0", ["certgen"]),
    ("docker.io/jettech/kube-webhook-certgen:v1.5.1", ["certgen"]),
    ("postgres", []),
    ("postgres:11-alpine", []),
])
def test_resolve_argv(image: str, extra: list[str]) -> None:
    launch = demo_catalog_().resolve(image, None, None)
    assert launch.argv[3:3 + len(extra)] == extra
    if image.startswith("postgres"):
        assert launch.argv[3:] == ["postgres"]  # the image's CMD


def test_entries_are_valid_catalog_yaml(tmp_path: Path) -> None:
    entries = demo_catalog.entries()
    for e in entries:
        entry_from_dict(e, "demo")
    # the same mappings work from a user's catalog file
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"images": entries}))
    from_file = Catalog([path], builtins=False)
    assert from_file.resolve("arapulido/ads-service:2.0", ["x"], None).argv[1:4] == [
        "-m", "turnout.demo.ads", "--image-tag=2.0"]
    assert Catalog(builtins=False).find("arapulido/frontend:1.0") is None
    assert demo_catalog_().find("busybox") is None
