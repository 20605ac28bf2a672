"""Flagger `MetricTemplate`s: the Go-template query, Prometheus answers, thresholdRange, and a
Canary judged by them on the in-memory cluster."""

from __future__ import annotations

import base64
import math

import pytest

from turnout.rollout import flagger
from turnout.rollout import metric_templates as mt
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.webhooks import FakeCaller
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, deployment, rt, template
from .test_flagger import BASE, NS, canary, new_version, primary_image, run, status

QUERY = """histogram_quantile(
    0.99,
    sum(
        rate(
            istio_request_duration_milliseconds_bucket{
                reporter="{{ variables.reporter }}",
                destination_workload_namespace="{{ namespace }}",
                destination_workload=~"{{ target }}"
            }[{{ interval }}]
        )
    ) by (le)
)"""


def model(**variables: str) -> mt.Model:
    return mt.Model("podinfo", "test", "podinfo", "podinfo-svc", "podinfo-ing", "podinfo",
                    "1m", dict(variables))


def vector(*values: float | str) -> Obj:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000.0, str(v)]} for v in values]}}


def test_render_flaggers_variables() -> None:
    out = mt.render(QUERY, model(reporter="destination"))
    assert 'reporter="destination"' in out and 'destination_workload=~"podinfo"' in out
    assert "[1m]" in out and 'destination_workload_namespace="test"' in out
    m = model()
    assert mt.render("{{name}}/{{ service }}/{{ ingress }}/{{ route }}", m) == \
        "podinfo/podinfo-svc/podinfo-ing/podinfo"
    assert mt.render("a  {{- /* note */ -}}  b", m) == "ab"


def test_missing_variable_and_unknown_function_are_errors() -> None:
    with pytest.raises(mt.RenderError, match='map has no entry for key "reporter"'):
        mt.render(QUERY, model())
    with pytest.raises(mt.RenderError, match='function "canary" not defined'):
        mt.render("{{ canary }}", model())


def test_model_from_a_canary() -> None:
    c = {"metadata": {"name": "podinfo", "namespace": "test"},
         "spec": {"targetRef": {"name": "podinfo"}, "service": {"name": "web"},
                  "ingressRef": {"name": "public"}}}
    m = mt.model(c, {"name": "x", "interval": "30s", "templateVariables": {"path": "root"}})
    assert (m.service, m.ingress, m.route, m.interval, m.variables) == (
        "web", "public", "podinfo", "30s", {"path": "root"})
    assert mt.model(c, {"name": "x"}).interval == "1m"


def test_prometheus_answers() -> None:
    assert mt.prometheus_value(vector(3.5)) == 3.5
    assert mt.prometheus_value(vector(1, 2)) == 2  # several series: the last one wins
    with pytest.raises(mt.NoValues):
        mt.prometheus_value(vector())
    with pytest.raises(mt.NoValues):
        mt.prometheus_value(vector("NaN"))
    with pytest.raises(ValueError, match="multiple values"):
        mt.prometheus_value({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"]]}]}})
    with pytest.raises(ValueError, match="bad_data"):
        mt.prometheus_value({"status": "error", "error": "bad_data"})
    assert not math.isnan(mt.prometheus_value(
        {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}))


def test_threshold_range_and_credentials() -> None:
    assert mt.judge("latency", 612.0, {"max": 500}) == "latency 612.00 > 500"
    assert mt.judge("ok", 0.5, {"min": 1}) == "ok 0.50 < 1"
    assert mt.judge("x", 3, {"min": 1, "max": 5}) == ""
    token = {"data": {"token": base64.b64encode(b"s3cr3t").decode()}}
    assert mt.request_headers({"headers": {"X-Scope-OrgID": ["t1"]}},
                              mt.credentials(token)) == {"X-Scope-OrgID": "t1",
                                                         "Authorization": "Bearer s3cr3t"}
    basic = mt.request_headers({}, {"username": "u", "password": "p"})
    assert basic["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    with pytest.raises(ValueError, match="neither a token"):
        mt.request_headers({}, {"user": "u"})


def test_unknown_provider_type_is_refused_by_name() -> None:
    tmpl = {"metadata": {"name": "latency", "namespace": "istio-system"},
            "spec": {"provider": {"type": "datadog"}}}
    with pytest.raises(flagger.SpecError) as e:
        mt.provider_type(tmpl)
    assert str(e.value).startswith("MetricTemplate istio-system/latency: spec.provider.type: "
                                   "unsupported provider 'datadog'")


# --- on the in-memory cluster -----------------------------------------------------------------

def latency_template(ptype: str = "prometheus", secret: str = "") -> Obj:
    prov: Obj = {"type": ptype, "address": "http://prometheus.istio-system:9090"}
    if secret:
        prov["secretRef"] = {"name": secret}
    return {"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
            "metadata": {"name": "latency", "namespace": "istio-system"},
            "spec": {"provider": prov, "query": QUERY}}


LATENCY = {"name": "latency", "templateRef": {"name": "latency", "namespace": "istio-system"},
           "thresholdRange": {"max": 500}, "interval": "1m",
           "templateVariables": {"reporter": "destination"}}


def setup(answer: object, tmpl: Obj | None = None, metric: Obj | None = None,
          secret: Obj | None = None) -> tuple[Objects, CanaryController, mt.FakeQuerier]:
    o = cluster(NS, "istio-system")
    o.create(rt(o, "deployments.apps"), NS,
             deployment("advertisements", NS, template("v1", "arapulido/ads-service:1.0")))
    o.create(rt(o, "metrictemplates.flagger.app"), "istio-system", tmpl or latency_template())
    if secret:
        o.create(rt(o, "secrets"), "istio-system", secret)
    o.create(rt(o, "canaries.flagger.app"), NS, canary(metrics=[metric or LATENCY]))
    q = mt.FakeQuerier(answer)
    ctl = CanaryController(o, FakeMetrics(dists={"v1": BASE, "v2": BASE}), hooks=FakeCaller(),
                           querier=q)
    run(o, ctl, 0, 8)
    assert status(o)["phase"] == "Initialized"
    new_version(o)
    return o, ctl, q


def test_a_template_within_range_promotes() -> None:
    o, ctl, q = setup(vector(120.0))
    run(o, ctl, 10, 80)
    assert status(o)["phase"] == "Succeeded"
    assert primary_image(o).endswith(":2.0")
    address, query, headers = q.queries[0]
    assert address == "http://prometheus.istio-system:9090" and headers == {}
    assert query.startswith("histogram_quantile( 0.99, sum( rate( ")  # whitespace trimmed
    assert 'destination_workload=~"advertisements"' in query and "[1m]" in query
    hist = status(o)["turnout"]["history"]
    assert any("latency 120.00 within [-inf, 500]" in r["reason"] for r in hist)


@pytest.mark.parametrize(("answer", "metric", "tmpl", "message"), [
    (vector(612.0), None, None, "latency 612.00 > 500"),
    (vector(), None, None, "no values found for custom metric: latency"),
    (OSError("connection refused"), None, None, "metric query failed for latency: query to "
                                                "http://prometheus.istio-system:9090 failed: "
                                                "connection refused"),
    (vector(1.0), {**LATENCY, "templateVariables": {}}, None,
     'map has no entry for key "reporter"'),
    (vector(1.0), None, latency_template("datadog"),
     "MetricTemplate istio-system/latency: spec.provider.type: unsupported provider "
     "'datadog'"),
    (vector(1.0), {**LATENCY, "templateRef": {"name": "nope"}}, None,
     "metric template nope.ns3 error: MetricTemplate not found"),
])
def test_a_failing_template_counts_and_rolls_back(answer: object, metric: Obj | None,
                                                  tmpl: Obj | None, message: str) -> None:
    o, ctl, _ = setup(answer, tmpl, metric)
    run(o, ctl, 10, 50)
    st = status(o)
    assert st["phase"] == "Failed", st
    assert st["failedChecks"] == 2
    assert message in st["conditions"][0]["message"]
    assert primary_image(o).endswith(":1.0")


def test_secret_ref_sends_credentials() -> None:
    secret = {"metadata": {"name": "prom-auth"}, "type": "Opaque",
              "data": {"username": base64.b64encode(b"flagger").decode(),
                       "password": base64.b64encode(b"pw").decode()}}
    o, ctl, q = setup(vector(1.0), latency_template(secret="prom-auth"), secret=secret)
    run(o, ctl, 10, 40)
    assert q.queries and q.queries[0][2]["Authorization"] == \
        "Basic " + base64.b64encode(b"flagger:pw").decode()


def test_turnout_provider_is_the_canary_versus_primary_verdict() -> None:
    o, ctl, q = setup(None, latency_template("turnout"),
                      {"name": "verdict", "templateRef": {"name": "latency",
                                                          "namespace": "istio-system"}})
    ctl.source = FakeMetrics(dists={"v1": BASE, "v2": lognormal(50.0, 0.2, extra_ms=200.0)})
    run(o, ctl, 10, 60)
    st = status(o)
    assert st["phase"] == "Failed" and "slower" in st["conditions"][0]["message"]
    assert q.queries == []  # nothing asked of Prometheus
