"""Wrongly typed metric fields are named at once, as the Argo CRDs' schema would refuse them."""

from __future__ import annotations

import pytest

from turnout.rollout import analysis_spec as spec


def problems(metric: dict[str, object], resolved: bool = True) -> list[str]:
    return spec.metric_problems(metric, "spec.metrics[0]", resolved)


def test_int_or_string_fields() -> None:
    assert problems({"name": "m", "failureLimit": [1], "provider": {"web": {}}}) == [
        "spec.metrics[0].failureLimit: Invalid value: [1]: must be an integer or a string"]
    assert problems({"count": "three"}) == [
        'spec.metrics[0].count: Invalid value: "three": must be an integer, or a string that '
        "resolves to one"]
    assert problems({"count": 3, "failureLimit": "2", "inconclusiveLimit": 0,
                     "consecutiveErrorLimit": "{{args.errors}}"}, resolved=False) == []
    # resolved, a placeholder's value must be an integer
    assert problems({"consecutiveErrorLimit": "x"})[0].startswith(
        'spec.metrics[0].consecutiveErrorLimit: Invalid value: "x"')
    assert problems({"consecutiveSuccessLimit": True}) != []


def test_durations_are_strings() -> None:
    assert problems({"interval": 5}) == [
        'spec.metrics[0].interval: Invalid value: 5: must be a duration string such as "30s", '
        '"5m" or "1h30m"']
    assert problems({"initialDelay": "soon"})[0].startswith(
        'spec.metrics[0].initialDelay: Invalid value: "soon"')
    assert problems({"interval": "1m30s", "initialDelay": "{{args.d}}"}, resolved=False) == []


def test_unknown_provider_and_turnout_provider_fields() -> None:
    assert problems({"provider": {"prometheus2": {"query": "up"}}}) == [
        'spec.metrics[0].provider: Unsupported value: "prometheus2": supported values: '
        '"prometheus", "web", "job", "turnout"']
    assert problems({"provider": {"turnout": {"maxLatencyIncrease": "ten percent"}}}) == [
        'spec.metrics[0].provider.turnout.maxLatencyIncrease: Invalid value: "ten percent": '
        "must be a number"]
    assert problems({"provider": {"turnout": {"maxLatencyIncrease": "0.2", "minSamples": 5,
                                              "alpha": 0.01}}}) == []
    assert problems({"provider": {"turnout": {"maxLatency": 0.2}}})[0].startswith(
        'spec.metrics[0].provider.turnout.maxLatency: Unsupported value: "maxLatency"')
    assert problems({"provider": {"web": {"url": ["http://x"]}}}) == [
        'spec.metrics[0].provider.web.url: Invalid value: ["http://x"]: must be a string']
    assert spec.metric_problems({"provider": {"fake": {}}}, "m", providers=("fake",)) == []


def test_template_problems_name_the_template() -> None:
    t = {"kind": "AnalysisTemplate", "metadata": {"name": "ads"},
         "spec": {"metrics": [{"name": "ok", "provider": {"web": {"url": "http://x"}}},
                              {"name": "bad", "failureLimit": [1], "provider": {"web": {}}}]}}
    assert spec.template_problems(t) == [
        'AnalysisTemplate "ads": spec.metrics[1].failureLimit: Invalid value: [1]: must be an '
        "integer or a string"]


@pytest.mark.parametrize(("field", "value", "why"), [
    ("promoteOn", "sometimes", 'is not "evidence" or "budget"'),
    ("alpha", 2, "is not in (0, 1)"),
    ("alpha", "NaN", "is not a finite number"),
    ("latencyQuantiles", [2], "is not in (0, 1)"),
    ("latencyQuantiles", ["p99"], "must be a list of numbers in (0, 1)"),
    ("budgetPower", 1.5, "is not in [0.5, 1)"),
    ("budgetEffect", 0, "must be > 1"),
    ("minSamples", -5, "must be >= 1"),
    ("maxLatencyIncrease", -1, "must be >= 0"),
    ("minLatencyIncreaseMs", -1, "must be >= 0"),
])
def test_turnout_provider_values_out_of_range_name_the_template_and_field(
        field: str, value: object, why: str) -> None:
    tmpl = {"kind": "AnalysisTemplate", "metadata": {"name": "ads"},
            "spec": {"metrics": [{"name": "m", "provider": {"turnout": {field: value}}}]}}
    problems = spec.template_problems(tmpl)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f'AnalysisTemplate "ads": spec.metrics[0].provider.turnout.{field}: Invalid value: ')
    assert why in problems[0], problems[0]
