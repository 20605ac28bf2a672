"""Numbers for people: no "-∞ to ∞", no "+20000 %", no "nan" (issue 10)."""

from __future__ import annotations

import math

import pytest

from turnout.analysis import fmt


@pytest.mark.parametrize(("x", "text"), [
    (201.4, "201"), (43.04, "43.0"), (0.041, "0.04"), (-12.34, "-12.3"),
    (math.inf, "\u221e"), (-math.inf, "-\u221e"), (math.nan, "n/a"),
])
def test_ms(x: float, text: str) -> None:
    assert fmt.fmt_ms(x) == text


def test_points_and_pct_never_print_nan_or_inf() -> None:
    assert fmt.fmt_points(0.0418) == "4.18" and fmt.fmt_points(0.0) == "0"
    assert fmt.fmt_pct(0.1429) == "14.29%" and fmt.fmt_pct(0.0) == "0%"
    for f in (fmt.fmt_points, fmt.fmt_pct):
        assert f(math.nan) == "n/a"
        assert "inf" not in f(math.inf)


def test_signed() -> None:
    assert fmt.signed(fmt.fmt_ms, 198.5) == "+198"
    assert fmt.signed(fmt.fmt_ms, -4.2) == "-4.2"
    assert fmt.signed(fmt.fmt_ms, 0.0) == "0.00"


def test_interval_with_both_bounds() -> None:
    assert fmt.fmt_interval(191.6, 201.3, fmt.fmt_ms, "ms") == "+192 to +201 ms"
    assert fmt.fmt_interval(-0.0418, 0.0332, fmt.fmt_points, "pts") == "-4.18 to +3.32 pts"


@pytest.mark.parametrize("bounds", [(None, None), (-math.inf, math.inf), (math.nan, math.nan),
                                    (None, math.inf)])
def test_interval_with_no_finite_bound_says_why(bounds: tuple[float | None, float | None]) -> None:
    text = fmt.fmt_interval(*bounds, fmt.fmt_ms, "ms")
    assert text == "n/a (too few requests)"
    assert fmt.fmt_interval(*bounds, fmt.fmt_ms, "ms", unbounded="-") == "-"


def test_interval_with_one_finite_bound_is_one_sided() -> None:
    assert fmt.fmt_interval(159.0, None, fmt.fmt_ms, "ms") == "\u2265 +159 ms"
    assert fmt.fmt_interval(-math.inf, -3.24, fmt.fmt_ms, "ms") == "\u2264 -3.2 ms"


@pytest.mark.parametrize(("baseline", "candidate", "text"), [
    (88, 112, "+27%"), (100, 104.5, "+4.5%"), (100, 55, "-45%"), (100, 100, "0%"),
    (10, 0, "-100%"), (43.0, 242.0, "5.6\u00d7"), (20, 40, "2.0\u00d7"),
    (2.0, 201.0, ">10\u00d7"), (0.01, 200.0, ">10\u00d7"),   # the "+20000 %" of issue 10
])
def test_relative_change(baseline: float, candidate: float, text: str) -> None:
    assert fmt.fmt_relative(baseline, candidate) == text


@pytest.mark.parametrize(("baseline", "candidate"), [
    (0.0, 200.0), (0.0, 0.0), (None, 3.0), (3.0, None), (math.nan, 1.0), (1.0, math.inf),
    (-1.0, 2.0),
])
def test_relative_change_is_empty_where_a_ratio_says_nothing(
        baseline: float | None, candidate: float | None) -> None:
    assert fmt.fmt_relative(baseline, candidate) == ""
