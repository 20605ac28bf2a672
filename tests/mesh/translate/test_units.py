from __future__ import annotations

import pytest

from turnout.mesh.translate import units


@pytest.mark.parametrize(("text", "secs"), [("1s", 1.0), ("100ms", 0.1), ("1m30s", 90.0),
                                            ("1.5h", 5400.0), ("250us", 0.00025)])
def test_durations(text: str, secs: float) -> None:
    assert units.seconds(text) == pytest.approx(secs)


@pytest.mark.parametrize("text", ["", "1", "s", "1x", "1s2"])
def test_bad_durations(text: str) -> None:
    assert not units.is_duration(text)


def test_fraction() -> None:
    assert units.fraction(0.1) == {"numerator": 1000, "denominator": "MILLION"}
    assert units.fraction(150) == {"numerator": 1_000_000, "denominator": "MILLION"}
