"""The lab's manifest-files ship verbatim in the package (issue 10)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = Path(str(resources.files("turnout") / "examples" / "lab"))
LAB = REPO.parent / "shared" / "lab" / "manifest-files"


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.skipif(not LAB.is_dir(), reason="the lab's own files are not beside this checkout")
def test_the_shipped_copy_is_the_labs_files_byte_for_byte() -> None:
    assert files(SHIPPED / "manifest-files") == files(LAB)


def test_the_copy_carries_its_license_and_says_where_it_comes_from() -> None:
    assert "Apache License" in (SHIPPED / "manifest-files" / "LICENSE").read_text()
    readme = (SHIPPED / "README.md").read_text()
    assert "verbatim" in readme and "katacoda-scenarios-files" in readme
    for folder in ("database", "ecommerce-v1", "fake-traffic", "ingress", "ingress-controller",
                   "ingress_ns", "istio", "servicenetwork"):
        assert (SHIPPED / "manifest-files" / folder).is_dir(), folder
    assert (SHIPPED / "manifest-files" / "istio" / "istio-config.yaml").is_file()


def test_package_data_ships_every_example_file() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "examples/**/*" in meta["tool"]["setuptools"]["package-data"]["turnout"]
