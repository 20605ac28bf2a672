"""AnalysisRuns as Argo runs them: count / interval / initialDelay, limits, dryRun,
measurementRetention, consecutiveSuccessLimit, args and Secrets, on the in-memory cluster."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from turnout.kube.printers import printer_for
from turnout.rollout import analysis_run as ar
from turnout.rollout.analysisrun_controller import AnalysisRunController
from turnout.rollout.metrics import FakeMetrics
from turnout.rollout.providers import Measurement, Providers
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, events, rt

NS = "ns1"


class Scripted:
    """A provider answering from a per-metric script of phases; records what it was asked."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = {k: iter(v) for k, v in script.items()}
        self.seen: list[tuple[str, float, Obj]] = []

    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        self.seen.append((str(metric["name"]), now, metric))
        it: Iterator[str] = self.script.get(metric["name"], iter(()))
        phase = next(it, "Successful")
        url = (metric.get("provider") or {}).get("fake", {}).get("url")
        return phase, "1", f"{phase.lower()} measurement" + (f" of {url}" if url else "")


def setup(metrics: list[Obj], script: dict[str, list[str]], **spec: object
          ) -> tuple[Objects, AnalysisRunController, Scripted]:
    o = cluster(NS)
    p = Providers(FakeMetrics())
    fake = Scripted(script)
    p.by_name["fake"] = fake
    for m in metrics:
        m.setdefault("provider", {"fake": {}})
    o.create(rt(o, "analysisruns.argoproj.io"), NS, {
        "metadata": {"name": "run"}, "spec": {"metrics": metrics, **spec}})
    return o, AnalysisRunController(o, p), fake


def status(o: Objects) -> Obj:
    st: Obj = o.get(rt(o, "analysisruns.argoproj.io"), NS, "run").get("status") or {}
    return st


def drive(o: Objects, c: AnalysisRunController, t0: float, t1: float, step: float = 1.0) -> None:
    t = t0
    while t <= t1:
        c.sync((NS, "run"), t)
        t += step


def result(o: Objects, name: str) -> Obj:
    return next(r for r in status(o)["metricResults"] if r["name"] == name)


def test_count_interval_and_initial_delay() -> None:
    o, c, fake = setup([{"name": "m", "count": 3, "interval": "5s", "initialDelay": "2s"}], {})
    drive(o, c, 100, 101)
    assert status(o)["phase"] == "Running" and not fake.seen  # waiting for initialDelay
    drive(o, c, 102, 120)
    assert [t for _, t, _ in fake.seen] == [102, 107, 112]
    assert status(o)["phase"] == "Successful" and result(o, "m")["count"] == 3
    assert status(o)["runSummary"] == {"count": 1, "successful": 1, "failed": 0,
                                       "inconclusive": 0, "error": 0}


def test_no_count_no_interval_measures_once_interval_only_runs_until_terminated() -> None:
    o, c, fake = setup([{"name": "once"}, {"name": "forever", "interval": "10s"}], {})
    drive(o, c, 0, 35)
    assert [n for n, _, _ in fake.seen].count("once") == 1
    assert [n for n, _, _ in fake.seen].count("forever") == 4
    assert status(o)["phase"] == "Running"
    run = o.get(rt(o, "analysisruns.argoproj.io"), NS, "run")
    run["spec"]["terminate"] = True
    o.update(rt(o, "analysisruns.argoproj.io"), NS, "run", run)
    drive(o, c, 36, 36)
    assert status(o)["phase"] == "Successful" and status(o)["message"] == "Run Terminated"


def test_failure_limit_message_as_argo_writes_it() -> None:
    o, c, _ = setup([{"name": "sr", "interval": "1s", "count": 4, "failureLimit": 1}],
                    {"sr": ["Failed", "Successful", "Failed"]})
    drive(o, c, 0, 10)
    st = status(o)
    assert st["phase"] == "Failed"
    assert st["message"] == ('Metric "sr" assessed Failed due to failed (2) > failureLimit (1): '
                             '"failed measurement"')  # Argo's "Error Message: " is for Errors
    reasons = {e["reason"] for e in events(o, NS)}
    assert {"MetricFailed", "AnalysisRunFailed"} <= reasons


def test_errors_do_not_count_are_retried_every_10s_and_end_in_error() -> None:
    o, c, fake = setup([{"name": "e", "interval": "1s", "count": 2, "consecutiveErrorLimit": 2}],
                       {"e": ["Error", "Error", "Error"]})
    drive(o, c, 0, 40)
    assert [t for _, t, _ in fake.seen] == [0, 10, 20]
    r = result(o, "e")
    assert r["error"] == 3 and r.get("count", 0) == 0 and r["phase"] == "Error"
    assert status(o)["message"] == ('Metric "e" assessed Error due to consecutiveErrors (3) > '
                                    'consecutiveErrorLimit (2): "Error Message: error '
                                    'measurement"')


def test_consecutive_success_limit_ends_early_or_is_inconclusive() -> None:
    o, c, fake = setup([{"name": "s", "interval": "1s", "count": 10,
                         "consecutiveSuccessLimit": 2, "failureLimit": 5}],
                       {"s": ["Failed", "Successful", "Successful"]})
    drive(o, c, 0, 20)
    assert len(fake.seen) == 3 and status(o)["phase"] == "Successful"
    o, c, _ = setup([{"name": "s", "interval": "1s", "count": 3, "consecutiveSuccessLimit": 2,
                      "failureLimit": 1}], {"s": ["Successful", "Failed", "Successful"]})
    drive(o, c, 0, 10)
    assert status(o)["phase"] == "Inconclusive"
    assert "consecutiveSuccessLimit (2) not reached" in status(o)["message"]


def test_dry_run_metric_never_decides_and_is_summarised() -> None:
    for rule in ("total-5xx", ".*5xx", "*"):
        o, c, _ = setup([{"name": "total-5xx", "failureLimit": 0},
                         {"name": "other"}] if rule != "*" else [{"name": "total-5xx"}],
                        {"total-5xx": ["Failed"]}, dryRun=[{"metricName": rule}])
        drive(o, c, 0, 2)
        st = status(o)
        assert st["phase"] == "Successful", (rule, st)
        r = result(o, "total-5xx")
        assert r["dryRun"] is True and r["phase"] == "Failed"
        assert r["message"] == "Metric assessed Failed due to failed (1) > failureLimit (0)"
        assert st["dryRunSummary"]["failed"] == 1
    o, c, _ = setup([{"name": "m"}], {}, dryRun=[{"metricName": "nothing-like-it"}])
    drive(o, c, 0, 1)
    assert status(o)["phase"] == "Error"
    assert "dryRun[0]: Rule didn't match any metric name(s)" in status(o)["message"]


def test_measurement_retention_default_10_and_per_metric() -> None:
    o, c, _ = setup([{"name": "a", "interval": "1s", "count": 15},
                     {"name": "b", "interval": "1s", "count": 15}], {},
                    measurementRetention=[{"metricName": "b", "limit": 3}])
    drive(o, c, 0, 20)
    assert status(o)["phase"] == "Successful"
    assert len(result(o, "a")["measurements"]) == 10 and result(o, "a")["count"] == 15
    assert len(result(o, "b")["measurements"]) == 3


URL = "{{args.url}}/{{ args.svc }}"
ARGS = [{"name": "svc", "value": "ads"},
        {"name": "url", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "url"}}}]


def test_args_and_secret_args_are_resolved_per_measurement_and_redacted() -> None:
    o, c, fake = setup([{"name": "q", "provider": {"fake": {"url": URL}}}], {}, args=ARGS)
    drive(o, c, 0, 0)
    assert status(o)["phase"] == "Error"
    assert status(o)["message"] == \
        'Unable to resolve metric arguments: secrets "creds" not found'
    o, c, fake = setup([{"name": "q", "provider": {"fake": {"url": URL}}}], {}, args=ARGS)
    o.create(rt(o, "secrets"), NS, {"metadata": {"name": "creds"},
                                    "data": {"url": base64.b64encode(b"http://s3cr3t").decode()}})
    drive(o, c, 0, 0)
    assert fake.seen[0][2]["provider"]["fake"]["url"] == "http://s3cr3t/ads"
    assert status(o)["phase"] == "Successful"
    assert result(o, "q")["measurements"][0]["message"] == "successful measurement of *****/ads"
    assert "{{args.url}}" in o.get(rt(o, "analysisruns.argoproj.io"), NS, "run")["spec"][
        "metrics"][0]["provider"]["fake"]["url"]  # the run keeps its placeholders


def test_unresolved_placeholder_and_invalid_metric_are_errors() -> None:
    o, c, _ = setup([{"name": "q", "provider": {"fake": {"q": "{{args.missing}}"}}}], {})
    drive(o, c, 0, 0)
    assert status(o)["message"] == \
        "Unable to resolve metric arguments: failed to resolve {{args.missing}}"
    o, c, _ = setup([{"name": "q", "count": 3}], {})
    drive(o, c, 0, 0)
    assert status(o)["phase"] == "Error"
    assert status(o)["message"] == \
        "Analysis spec invalid: metrics[0]: interval must be specified when count > 1"


def test_kubectl_get_analysisrun_prints_status_and_age() -> None:
    o, c, _ = setup([{"name": "m"}], {})
    drive(o, c, 0, 0)
    p = printer_for(rt(o, "analysisruns.argoproj.io"))
    assert [col["name"] for col in p.columns] == ["Name", "Status", "Age"]
    from datetime import UTC, datetime
    row = p.row(o.get(rt(o, "analysisruns.argoproj.io"), NS, "run"), datetime.now(UTC))
    assert row[:2] == ["run", "Successful"]


def test_pure_rules() -> None:
    assert ar.effective_count({"interval": "5s"}) is None
    assert ar.effective_count({}) == 1 and ar.effective_count({"count": "3"}) == 3
    assert ar.effective_count({"count": 0, "interval": "1s"}) is None
    assert ar.validate_metric({"name": "x", "failureLimit": -1, "provider": {"web": {}}}) == \
        "failureLimit and consecutiveSuccessLimit cannot both be disabled"
    assert ar.validate_metric({"name": "x", "provider": {}}) == "no provider specified"
    assert ar.resolve({"q": 'a "{{args.x}}"'}, {"x": 'say "hi"\n'}) == {"q": 'a "say "hi"\n"'}


def test_a_wrongly_typed_field_or_unknown_provider_is_an_error_at_once() -> None:
    o, c, fake = setup([{"name": "m", "count": 2, "interval": "5s", "failureLimit": [1]}], {})
    drive(o, c, 0, 0)
    assert status(o)["phase"] == "Error" and not fake.seen
    assert status(o)["message"] == ("Analysis spec invalid: spec.metrics[0].failureLimit: "
                                    "Invalid value: [1]: must be an integer or a string")
    o, c, fake = setup([{"name": "m", "provider": {"prometheus2": {"query": "up"}}}], {})
    drive(o, c, 0, 0)
    assert status(o)["phase"] == "Error" and not fake.seen
    assert 'spec.metrics[0].provider: Unsupported value: "prometheus2"' in status(o)["message"]
