from __future__ import annotations

import random

from turnout.analysis.baselines import KayentaClass, flagger_check, kayenta_judge


def test_flagger_check_uses_absolute_limits_on_the_canary() -> None:
    assert not flagger_check([], []).passed
    assert "no values" in flagger_check([], []).reason
    ok = flagger_check([100.0] * 100, [False] * 100)
    assert ok.passed and ok.p99_ms == 100.0 and ok.success_rate == 1.0
    slow = flagger_check([100.0] * 98 + [600.0] * 2, [False] * 100)
    assert not slow.passed and "p99 600 ms > 500 ms" in slow.reason
    errors = flagger_check([100.0] * 100, [True] * 2 + [False] * 98)
    assert not errors.passed and "success rate 98.00% < 99.00%" in errors.reason


def test_kayenta_judge_classifies_shifts() -> None:
    rng = random.Random(1)
    b = [rng.gauss(50, 5) for _ in range(100)]
    high = kayenta_judge(b, [x + 30 for x in b[::-1]])
    assert high.classification is KayentaClass.HIGH
    assert 25 < high.estimate < 35
    low = kayenta_judge(b, [x - 30 for x in b])
    assert low.classification is KayentaClass.LOW
    same = kayenta_judge(b, [rng.gauss(50, 5) for _ in range(100)])
    assert same.classification is KayentaClass.PASS
    assert kayenta_judge([], b).classification is KayentaClass.NODATA
    assert kayenta_judge(b, list(b)).classification is KayentaClass.PASS
