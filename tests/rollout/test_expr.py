"""Argo's condition language: expressions on realistic measurements, as Argo Rollouts decides them.

Every expected outcome in CASES was produced by expr-lang/expr v1.17.8 run with Argo's
environment (utils/evaluate/evaluate.go); ERR means Argo records the measurement as Error.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from turnout.rollout import analysis_run as ar
from turnout.rollout import expr

ERR = "error"
WEB = {"status": "ok", "data": {"ok": True, "rate": 0.99, "items": [1, 2, 3], "name": "ads-v2"},
       "errors": 0, "latency": [120.5, 98.0], "tags": ["canary", "v2"], "nothing": None}
RESULTS: dict[str, Any] = {
    "vec": [0.97], "vec99": [0.995], "empty": [], "vec3": [0.91, 0.97, 0.99], "low": [0.5, 0.97],
    "scalar": 0.97, "num": 5.0, "zero": 0.0, "nan": math.nan, "inf": math.inf, "nil": None,
    "web": WEB, "str": "It worked!", "web_str": "It failed", "true": "true", "ok!": "ok!",
    "bang": "!=", "jsonstr": '{"a": 1}', "strnum": "1.5", "strint": "42",
}

CASES: list[tuple[str, str, bool | str]] = [
    # Argo's examples (examples/rollout-secret.yaml, examples/appmesh/canary-rollout.yaml)
    ('str', "result == 'It worked!'", True),
    ('web_str', "result == 'It worked!'", False),
    ('vec', 'result[0] >= 0.99', False),
    ('vec99', 'result[0] >= 0.99', True),
    ('empty', 'result[0] >= 0.99', ERR),
    # issue 11: quoted strings are literals
    ('true', 'result == "true"', True),
    ('true', "result == 'true'", True),
    ('ok!', 'result != "ok!"', False),
    ('ok!', 'result == "ok!"', True),
    ('bang', 'result == "!=" && result != "&&"', True),
    # Prometheus vectors and scalars
    ('vec', 'result[0] >= 0.95', True),
    ('empty', 'result[0] >= 0.95', ERR),
    ('empty', 'len(result) == 0 || result[0] >= 0.95', True),
    ('vec', 'len(result) > 0 && result[0] >= 0.95', True),
    ('vec', 'result[0] >= 0.95 and len(result) > 1', False),
    ('vec3', 'result[-1] == 0.99', True),
    ('vec3', 'result[-4] == 0.99', ERR),
    ('vec3', 'result[1:] == [0.97, 0.99]', True),
    ('vec3', 'result[:1][0] == 0.91', True),
    ('scalar', 'result >= 0.95', True),
    ('scalar', 'result < 0.95', False),
    ('scalar', 'result == "0.97"', ERR),
    ('vec', 'result[0] == "0.97"', ERR),
    # NaN, Inf and nil
    ('nan', 'isNaN(result)', True),
    ('nan', 'result >= 0.95', False),
    ('nan', 'isNaN(result) || result >= 0.95', True),
    ('nan', 'result == result', False),
    ('inf', 'isInf(result)', True),
    ('scalar', 'isInf(result)', False),
    ('vec', 'isNaN(result[0])', False),
    ('vec', 'isNaN(result)', ERR),
    ('nil', 'isNil(result)', True),
    ('empty', 'isNil(result)', False),
    ('nil', 'default(result, 0) >= 0', True),
    ('scalar', 'default(result, 0) > 0.5', True),
    ('nil', 'result == nil', True),
    ('nil', 'result > 0.5', ERR),
    ('nil', 'result ?? 0 > 0.5', ERR),
    ('nil', '(result ?? 1) > 0.5', True),
    ('nil', 'result?.foo == nil', ERR),
    ('nil', 'result.foo == nil', ERR),
    ('zero', 'isInf(1 / result)', True),
    ('zero', 'isNaN(0 / result)', True),
    # closures and array builtins
    ('vec3', 'all(result, {# > 0.9})', True),
    ('low', 'all(result, {# > 0.9})', False),
    ('empty', 'all(result, {# > 0.9})', True),
    ('low', 'any(result, {# > 0.9})', True),
    ('empty', 'any(result, # > 0.9)', False),
    ('low', 'none(result, {# > 0.99})', True),
    ('low', 'one(result, {# > 0.9})', True),
    ('vec3', 'one(result, {# > 0.9})', False),
    ('vec3', 'len(filter(result, {# > 0.95})) == 2', True),
    ('vec3', 'map(result, {# * 100})[0] == 91', True),
    ('vec3', 'map(result, #index)[2] == 2', True),
    ('vec3', 'all(result, #index >= 0)', ERR),
    ('vec3', 'count(result, {# > 0.95}) == 2', True),
    ('vec3', 'sum(result) > 2.8', True),
    ('empty', 'sum(result) == 0', True),
    ('vec3', 'mean(result) > 0.95', True),
    ('empty', 'mean(result) == 0', True),
    ('vec3', 'median(result) == 0.97', True),
    ('vec3', 'min(result) >= 0.9', True),
    ('vec3', 'max(result) == 0.99', True),
    ('empty', 'max(result) > 0.9', ERR),
    ('vec3', 'reduce(result, #acc + #, 0) > 2.8', True),
    ('vec3', 'find(result, # > 0.95) == 0.97', True),
    ('vec3', 'findIndex(result, # > 0.95) == 1', True),
    ('vec3', 'first(result) == 0.91 && last(result) == 0.99', True),
    ('empty', 'first(result) == nil', True),
    ('vec3', 'sort(result, "desc")[0] == 0.99', True),
    ('vec', 'abs(result[0] - 1) < 0.05', True),
    ('vec3', 'all(result, {let t = 0.9; # > t})', True),
    ('vec3', 'all(result, # > 0.9; true)', ERR),
    ('vec3', 'all(result, {1})', ERR),
    # web provider JSON
    ('web', 'result.status == "ok"', True),
    ('web', 'result["status"] == "ok"', True),
    ('web', 'result.data.ok', True),
    ('web', 'result.data.rate >= 0.95', True),
    ('web', 'result.data.items[0] == 1', True),
    ('web', 'result.data.items[3]', ERR),
    ('web', 'result.data.missing == nil', True),
    ('web', 'result.data.missing.x == nil', ERR),
    ('web', 'result.data?.missing?.x == nil', True),
    ('web', '(result.nothing?.x ?? "none") == "none"', True),
    ('web', 'result.nothing?.x ?? "none" == "none"', ERR),
    ('web', 'result.errors == 0', True),
    ('web', 'result.status == 1', False),
    ('web', 'all(result.latency, {# < 200})', True),
    ('web', 'any([result.data], {.ok})', True),
    ('web', 'filter(result.tags, # startsWith "c") == ["canary"]', True),
    ('web', 'result.tags | filter(# == "v2") | len() == 1', True),
    ('web', '"canary" in result.tags', True),
    ('web', '"stable" not in result.tags', True),
    ('web', '"status" in result', True),
    ('web', 'result.data.name startsWith "ads"', True),
    ('web', 'result.data.name endsWith "v2"', True),
    ('web', 'result.data.name contains "-"', True),
    ('web', 'result.data.name matches "^ads-v[0-9]+$"', True),
    ('web', 'result.data.name not matches "^x"', True),
    ('web', 'len(result.data.name) == 6', True),
    ('web', 'result.status == "ok" and result.errors == 0', True),
    ('web', 'result.errors > 0 ? false : true', True),
    ('web', 'result.tags.x', ERR),
    ('jsonstr', 'fromJSON(result).a == 1', True),
    # Argo's functions
    ('strnum', 'asFloat(result) == 1.5', True),
    ('strint', 'asInt(result) == 42', True),
    ('strnum', 'asInt(result) == 1', ERR),
    ('strnum', 'asFloat(result) == "1.5"', ERR),
    ('str', 'asFloat(result) > 1', ERR),
    ('num', 'asInt(result) % 2 == 1', True),
    ('num', 'result % 2 == 1', ERR),
    ('scalar', 'asInt(result) == 0', True),
    # operators, literals, precedence
    ('num', 'result in 1..10', True),
    ('scalar', '1 < 2 < 3', True),
    ('scalar', '1 < 3 < 2', False),
    ('scalar', '!true == false', True),
    ('scalar', '!true * 1', ERR),
    ('scalar', '-2 ** 2 == -4', True),
    ('scalar', '2 ** 3 ** 2 == 512', True),
    ('scalar', '7 / 2 == 3.5', True),
    ('scalar', '-7 % 3 == -1', True),
    ('scalar', '1 + 2 * 3 == 7', True),
    ('scalar', 'not false and not false', True),
    ('scalar', 'true or false and false', True),
    ('scalar', '0x1F == 31 && 0b101 == 5 && 0o17 == 15 && 1_000 == 1000', True),
    ('scalar', '.5 == 0.5 && 1e3 == 1000', True),
    ('scalar', '\'it\\\'s\' == "it\'s"', True),
    ('scalar', '`raw\\n` == "raw\\\\n"', True),
    ('scalar', '"\\u00e9" == "é"', True),
    ('scalar', '[1, 2] == [1.0, 2.0]', True),
    ('scalar', '{a: 1}.a == 1', True),
    ('scalar', 'let x = result * 100; x > 90', True),
    ('scalar', 'if result > 0.9 { true } else { false }', True),
    ('scalar', '(result == 0.97 ? "yes" : "no") == "yes"', True),
    ('scalar', 'result > 0.9 ?: false', True),
    ('scalar', 'string(result) == "0.97"', True),
    ('scalar', 'string(1000000.0) == "1e+06"', True),
    ('scalar', 'result | max(0.5) > 0.9', True),
    ('vec', 'result[0] >= 0.95 // comment', True),
    ('vec', '/* block */ result[0] >= 0.95', True),
    # errors
    ('scalar', '1', ERR),
    ('scalar', 'result', ERR),
    ('scalar', 'foo > 1', ERR),
    ('scalar', 'result >', ERR),
    ('scalar', 'result[0]', ERR),
    ('scalar', '"a" + 1', ERR),
    ('scalar', '5 > "a"', ERR),
    ('scalar', 'false && result.x', ERR),
    ('scalar', 'isNaN()', ERR),
    ('scalar', 'now() > 0', ERR),
    ('scalar', '1 @ 2', ERR),
    ('scalar', '"abc', ERR),
    ('scalar', "result.Name() == 'hi'", ERR),
    ('scalar', '9223372036854775808 > 0', ERR),
    ('scalar', '"x" matches "("', ERR),
    ('scalar', '# > 1', ERR),
]


@pytest.mark.parametrize(("name", "source", "want"), CASES,
                         ids=[f"{n}:{s}" for n, s, _ in CASES])
def test_conditions_as_argo_decides_them(name: str, source: str, want: bool | str) -> None:
    result = RESULTS[name]
    if want == ERR:
        with pytest.raises(expr.ExprError, match="could not evaluate") as info:
            expr.evaluate(source, result)
        assert info.value.expression == source
    else:
        assert expr.evaluate(source, result) is want
        assert ar.evaluate(source, result) is want


def test_table_covers_enough() -> None:
    assert len(CASES) >= 60
    assert {n for n, _, _ in CASES} == set(RESULTS)


def test_errors_name_the_expression_and_the_reason() -> None:
    with pytest.raises(expr.ExprError) as info:
        expr.evaluate("result[0] >= 0.95", [])
    assert info.value.expression == "result[0] >= 0.95"
    assert str(info.value) == ('could not evaluate "result[0] >= 0.95": '
                               "index out of range: 0 (array length is 0)")
    with pytest.raises(ValueError, match=r"unknown name foo"):
        expr.evaluate("foo > 1", 0.5)
    with pytest.raises(ValueError, match=r"mismatched types float64 and string"):
        expr.evaluate('result == "0.97"', 0.97)
    with pytest.raises(ValueError, match=r"cannot be mixed"):
        expr.evaluate("result ?? 0 > 0.5", None)
    with pytest.raises(ValueError, match=r"expected bool, but got float64"):
        expr.evaluate("result", 0.5)


def test_no_python_reaches_the_evaluator() -> None:
    for source in ("__import__('os').system('true')", "result.__class__", "().__class__",
                   "[c for c in result]", "lambda: 1", "result if True else 1"):
        with pytest.raises(ValueError):
            expr.evaluate(source, [1.0])


def test_integers_in_a_result_are_float64_as_in_go() -> None:
    assert expr.evaluate("result.count == 3 && result.count / 2 == 1.5", {"count": 3})
    with pytest.raises(ValueError, match="%"):
        expr.evaluate("result % 2 == 1", 5)


def test_compile_check_reports_without_running() -> None:
    expr.compile_check("false && result[0] > 1", [0.5])
    with pytest.raises(ValueError, match="has no field"):
        expr.compile_check("false && result.x > 1", 0.5)


JUDGED: list[tuple[dict[str, str], Any, str]] = [
    ({}, [0.5], "Successful"),
    ({"successCondition": "result[0] >= 0.95"}, [0.97], "Successful"),
    ({"successCondition": "result[0] >= 0.95"}, [0.5], "Failed"),
    ({"failureCondition": "result[0] < 0.9"}, [0.5], "Failed"),
    ({"failureCondition": "result[0] < 0.9"}, [0.97], "Successful"),
    ({"successCondition": "result[0] >= 0.95", "failureCondition": "result[0] < 0.9"}, [0.97],
     "Successful"),
    ({"successCondition": "result[0] >= 0.95", "failureCondition": "result[0] < 0.9"}, [0.5],
     "Failed"),
    ({"successCondition": "result[0] >= 0.95", "failureCondition": "result[0] < 0.9"}, [0.92],
     "Inconclusive"),
    ({"successCondition": "true", "failureCondition": "true"}, True, "Failed"),
    ({"successCondition": "result == 'It worked!'"}, "It worked!", "Successful"),
]


@pytest.mark.parametrize(("metric", "result", "phase"), JUDGED)
def test_judge_as_argo(metric: dict[str, str], result: Any, phase: str) -> None:
    assert ar.judge(metric, result) == phase


def test_judge_errors_name_the_condition() -> None:
    with pytest.raises(ValueError) as info:
        ar.judge({"successCondition": "result[0] >= 0.95"}, [])
    assert str(info.value) == ('could not evaluate successCondition "result[0] >= 0.95": metric '
                               "result is nil or empty: no data returned from the metric provider")
    # an error in either condition is an Error, even when the other would decide
    with pytest.raises(ValueError, match='failureCondition "bogus == true": unknown name bogus'):
        ar.judge({"successCondition": "true", "failureCondition": "bogus == true"}, 1.0)
    with pytest.raises(ValueError, match="successCondition"):
        ar.judge({"successCondition": "result.x", "failureCondition": "true"}, 1.0)
