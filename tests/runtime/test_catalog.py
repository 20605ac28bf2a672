from __future__ import annotations

import sys
from pathlib import Path

import pytest

from turnout.runtime.catalog import Catalog, CatalogError, Entry, ImageError, normalize


@pytest.mark.parametrize(("ref", "expected"), [
    ("busybox", "busybox:latest"),
    ("docker.io/library/busybox:1.36", "busybox:1.36"),
    ("arapulido/ads-service:1.0", "arapulido/ads-service:1.0"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("app@sha256:abc", "app@sha256:abc"),
])
def test_normalize(ref: str, expected: str) -> None:
    assert normalize(ref) == expected


def test_busybox_runs_host_command_with_k8s_command_args() -> None:
    cat = Catalog()
    launch = cat.resolve("busybox", ["/bin/sh"], ["-c", "echo hi"])
    assert launch.argv == ["/bin/sh", "-c", "echo hi"]
    assert cat.resolve("busybox:1.36", None, None).argv == ["sh"]
    with pytest.raises(ImageError, match='"no-such-tool-xyz" was not found'):
        cat.resolve("busybox", ["no-such-tool-xyz"], None)


def test_python_maps_to_running_interpreter() -> None:
    launch = Catalog().resolve("python:3.12-slim", ["python3", "-c", "pass"], None)
    assert launch.argv == [sys.executable, "-c", "pass"]
    # the image's CMD is python3; args replace it (as in Kubernetes)
    assert Catalog().resolve("python", None, None).argv == [sys.executable]
    with pytest.raises(ImageError):
        Catalog().resolve("python", None, ["app-not-on-path.py"])


def test_file_entry_templates_and_order(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "images:\n"
        '  - image: "arapulido/ads-service:*"\n'
        '    run: ["{python}", "-m", "demo.ads", "--tag={tag}", "{args}"]\n'
        "    env: {FLASK_APP: ads.py}\n"
        "    workingDir: /srv\n"
        '  - image: "busybox:1.0"\n'
        '    run: ["echo", "{image}"]\n'
    )
    cat = Catalog([path])
    launch = cat.resolve("arapulido/ads-service:2.0", ["ddtrace-run"], ["flask", "run"])
    assert launch.argv == [sys.executable, "-m", "demo.ads", "--tag=2.0", "ddtrace-run", "flask",
                           "run"]
    assert launch.env == {"FLASK_APP": "ads.py"} and launch.working_dir == "/srv"
    assert str(path) in launch.how
    # the user file comes before the built-in busybox entry
    assert cat.resolve("busybox:1.0", ["sh"], None).argv == ["echo", "busybox"]
    assert cat.resolve("busybox:1.1", ["sh"], None).argv == ["sh"]


def test_registered_entries_and_image_defaults() -> None:
    cat = Catalog(builtins=False)
    cat.register(Entry(image="shop/web", entrypoint=("web-server",), cmd=("--port", "80"),
                       run=("{python}", "-m", "shop", "{args}")))
    cat.register({"image": "shop/*:*", "run": ["true"]})
    py = sys.executable
    assert cat.resolve("shop/web", None, None).argv == [py, "-m", "shop", "web-server", "--port",
                                                         "80"]
    assert cat.resolve("shop/web:latest", None, ["--x"]).argv == [py, "-m", "shop", "web-server",
                                                                  "--x"]
    assert cat.resolve("shop/web", ["other"], None).argv == [py, "-m", "shop", "other"]
    assert cat.resolve("shop/db:9", None, None).argv == ["true"]


def test_unknown_image_host_command_or_helpful_error(tmp_path: Path) -> None:
    cat = Catalog([tmp_path / "catalog.yaml"])
    assert cat.resolve("acme/tool:3", ["sh", "-c", "true"], None).how == "host command"
    with pytest.raises(ImageError) as e:
        cat.resolve("acme/tool:3", ["acme-tool-missing"], None)
    message = str(e.value)
    assert 'image "acme/tool:3"' in message
    assert str(tmp_path / "catalog.yaml") in message
    assert 'image: "acme/tool:*"' in message and "run:" in message


@pytest.mark.parametrize(("text", "fragment"), [
    ("images: [{run: [x]}]", "'image'"),
    ("images: [{image: a, run: {x: 1}}]", "field 'run'"),
    ("images: [{image: a, env: [1]}]", "field 'env'"),
    ("images: [{image: a, colour: red}]", "unknown field"),
    ("images: {a: 1}", "list under 'images'"),
    ("images: [", "not valid YAML"),
])
def test_bad_files_name_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError) as e:
        Catalog([path]).entries()
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_default_reads_env_var_then_state_dir(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text('images: [{image: "x:*", run: ["true"]}]\n')
    monkeypatch.setenv("TURNOUT_CATALOG", str(extra))
    cat = Catalog.default(tmp_path)
    assert cat.paths == [extra, tmp_path / "catalog.yaml"]
    assert cat.resolve("x:1", None, None).argv == ["true"]
