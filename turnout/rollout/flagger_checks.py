"""The metrics of one Flagger analysis tick: builtin checks, MetricTemplates, turnout's verdict.

Why this exists: Flagger runs a Canary's `analysis.metrics` in order and stops at the first
failure: `request-success-rate` and `request-duration` (here from turnout's own telemetry, on the
canary alone, no data being a failed check), then each MetricTemplate through its provider. turnout
adds its sequential canary-versus-primary verdict to the builtin checks when the primary served
requests in the same window (blue/green load tests often hit only the canary) and the split is
random (not an A/B test's `match`, whose arms serve different users), unless the Canary's
annotation `turnout.dev/compare-with-primary: "false"` asks for Flagger's checks alone. The
controller passes itself as the ``Context``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from turnout.analysis import Outcome, Thresholds
from turnout.rollout import common, flagger, metric_templates, metrics
from turnout.rollout.engine import Gate, State
from turnout.store.objects import Objects
from turnout.types import Obj

TEMPLATE = "metrictemplates.flagger.app"
COMPARE = "turnout.dev/compare-with-primary"


class Context(Protocol):
    objects: Objects
    source: metrics.MetricSource
    thresholds: Thresholds | None
    querier: metric_templates.Querier


def compares_with_primary(canary: Obj) -> bool:
    """Whether turnout adds its canary-versus-primary verdict (annotation `COMPARE`, "true" by
    default); raises SpecError for a value other than "true" or "false"."""
    value = ((canary.get("metadata") or {}).get("annotations") or {}).get(COMPARE, "true")
    if str(value).strip().lower() not in ("true", "false"):
        raise flagger.SpecError(f"metadata.annotations[{COMPARE}]",
                                f'must be "true" or "false", got {value!r}')
    return str(value).strip().lower() == "true"


def gate(ctx: Context, canary: Obj, spec: Obj, state: State, target: Obj, primary: Obj | None,
         now: float) -> Gate:
    """The metrics of one tick, stopping at the first failure as Flagger does: builtin
    `request-success-rate` / `request-duration` on the canary alone (no data is a failed
    check), each MetricTemplate, and turnout's canary-versus-primary verdict."""
    listed = flagger.analysis(spec).get("metrics") or []
    if not listed:
        return Gate(Outcome.PASS, "no metrics configured")
    n = flagger.names(canary)
    # Flagger's arms: `<target>-primary` against `<target>`, whatever labels pods carry
    arms = metrics.Arms(
        n.namespace,
        metrics.arm_of(n.primary, "", (primary or target)["spec"].get("template") or {}),
        metrics.arm_of(n.target, "", target["spec"].get("template") or {}))
    since = timedelta(seconds=max(1.0, now - state.started))
    builtin = [m for m in listed if not m.get("templateRef")]
    if builtin:  # Flagger queries each metric over its `interval` (1m by default)
        window = timedelta(seconds=max(flagger.seconds(m.get("interval"), 60.0)
                                       for m in builtin))
        none = metrics.no_data_gate(ctx.source, arms, window, "the canary's requests")
        if none is not None:
            return none
    gates: list[Gate] = []
    for m in listed:
        window = timedelta(seconds=flagger.seconds(m.get("interval"), 60.0))
        rng = m.get("thresholdRange") or {}
        if m.get("templateRef"):
            g = _template(ctx, canary, m, arms, since, state.started)
        elif m["name"] == "request-success-rate":
            g = metrics.success_rate_gate(ctx.source, arms, window,
                                          float(rng.get("min", 99)))
        else:
            g = metrics.duration_gate(ctx.source, arms, window, float(rng.get("max", 500)))
        if g.outcome is Outcome.FAIL:
            return g
        gates.append(g)
    ab = bool(flagger.analysis(spec).get("match"))
    if builtin and not ab and compares_with_primary(canary) and \
            ctx.source.samples(n.namespace, arms.stable, since)[0]:
        # turnout's addition to the builtin checks, when the primary served requests too; not
        # for A/B tests, whose arms serve different users (a header or cookie picks them), so a
        # difference between them says nothing about the release
        gates.append(_beside(metrics.verdict_gate(
            ctx.source, arms, since, ctx.thresholds,
            key=f"flagger/{canary['metadata'].get('uid', '')}/{n.namespace}/{n.target}/"
                f"{state.started}", start=state.started)))
    return metrics.combine(gates)


def _beside(verdict: Gate) -> Gate:
    """turnout's comparison beside Flagger's absolute checks: it can roll back (shown beyond a
    limit), but promotion stays Flagger's rule (the checks pass `threshold` times), so a canary
    not yet shown within is not held; the reason says which rule decided."""
    if verdict.outcome is Outcome.INCONCLUSIVE:
        return Gate(Outcome.PASS, "Flagger's absolute checks decide promotion; turnout's "
                                  f"comparison: {verdict.reason}", verdict.metrics)
    if verdict.outcome is Outcome.FAIL:
        return Gate(Outcome.FAIL, f"turnout's comparison (anytime-valid) decided: "
                                  f"{verdict.reason}", verdict.metrics)
    return verdict

def _template(ctx: Context, canary: Obj, m: Obj, arms: metrics.Arms, since: timedelta,
              started: float) -> Gate:
    ref = m["templateRef"]
    tns = str(ref.get("namespace") or canary["metadata"]["namespace"])
    tmpl = common.get(ctx.objects, TEMPLATE, tns, str(ref["name"]))
    if tmpl is None:
        return Gate(Outcome.FAIL, f"metric template {ref['name']}.{tns} error: "
                                  "MetricTemplate not found")
    try:
        ptype = metric_templates.provider_type(tmpl)
    except flagger.SpecError as e:
        return Gate(Outcome.FAIL, str(e))
    if ptype == "turnout":  # turnout's judge asked for by name: it decides both ways
        return metrics.verdict_gate(
            ctx.source, arms, since, ctx.thresholds,
            key=f"flagger/{canary['metadata'].get('uid', '')}/{m['name']}/{started}",
            start=started)
    creds = None
    sref = ((tmpl.get("spec") or {}).get("provider") or {}).get("secretRef") or {}
    if sref.get("name"):
        secret = common.get(ctx.objects, "secrets", tns, str(sref["name"]))
        if secret is None:
            return Gate(Outcome.FAIL, f"metric template {ref['name']}.{tns} secret "
                                      f"{sref['name']} not found")
        try:
            creds = metric_templates.credentials(secret)
        except ValueError as e:
            return Gate(Outcome.FAIL, f"metric template {ref['name']}.{tns}: {e}")
    check = metric_templates.run_prometheus(tmpl, m, metric_templates.model(canary, m),
                                            creds, ctx.querier)
    nums = ({"metric": m["name"], "canary": check.value,
             **(m.get("thresholdRange") or {})},) if check.value is not None else ()
    return Gate(Outcome.PASS if check.ok else Outcome.FAIL, check.reason, nums)
