"""From a Rollout's `analysis` references to an AnalysisRun, as Argo Rollouts builds one.

Why this exists: a Rollout (or an Experiment) names AnalysisTemplates and ClusterAnalysisTemplates
(`clusterScope: true`), which may themselves name more templates (`spec.templates`); their
metrics, args, `dryRun` and `measurementRetention` are flattened into one AnalysisRun, the
Rollout's `args` override the templates' by name (`value`, or `valueFrom.podTemplateHashValue:
Stable|Latest`, or `valueFrom.fieldRef.fieldPath`), and an arg left without a value is an error
that names it (`args.service-name was not resolved`). The same rules validate the references before
any run exists, so a bad reference becomes the Rollout's InvalidSpec condition, as in Argo
(utils/analysis/helpers.go, factory.go; rollout/analysis.go). `{{args.x}}` placeholders stay in
the run: the AnalysisRun controller resolves them (secrets included) at each measurement.

Pure: no I/O; templates are looked up through the ``Lookup`` callable the caller passes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from turnout.kube import fielderrors
from turnout.rollout import analysis_run, analysis_spec
from turnout.types import JSON, Obj

TEMPLATE = "analysistemplates.argoproj.io"
CLUSTER_TEMPLATE = "clusteranalysistemplates.argoproj.io"
HASH_LABEL = "rollouts-pod-template-hash"
TYPE_LABEL = "rollout-type"
STEP_LABEL = "step-index"

Lookup = Callable[[str, bool], "Obj | None"]
"""(templateName, clusterScope) -> the template object, or None when it does not exist."""


class FieldError(ValueError):
    """A problem with one field of the Rollout, worded as a Kubernetes field error."""

    def __init__(self, path: str, value: JSON, detail: str) -> None:
        cause = fielderrors.invalid_value(path, value, detail)
        super().__init__(f"{cause.field}: {cause.message}")
        self.path = path


@dataclass(frozen=True)
class Ref:
    """One place a Rollout asks for analysis: ``kind`` is Background, Step, PrePromotion or
    PostPromotion (Argo's `rollout-type` label values), ``step`` the canary step index."""

    kind: str
    spec: Obj
    path: str
    step: int | None = None


def refs(spec: Obj) -> list[Ref]:
    """Every analysis reference of a Rollout spec, with its field path."""
    st = spec.get("strategy") or {}
    out: list[Ref] = []
    bg = st.get("blueGreen")
    if isinstance(bg, dict):
        for key, kind in (("prePromotionAnalysis", "PrePromotion"),
                          ("postPromotionAnalysis", "PostPromotion")):
            if isinstance(bg.get(key), dict):
                out.append(Ref(kind, bg[key], f"spec.strategy.blueGreen.{key}.templates"))
        return out
    canary = st.get("canary") or {}
    for i, step in enumerate(canary.get("steps") or []):
        if isinstance(step, dict) and isinstance(step.get("analysis"), dict):
            out.append(Ref("Step", step["analysis"],
                           f"spec.strategy.canary.steps[{i}].analysis.templates", i))
    if isinstance(canary.get("analysis"), dict):
        out.append(Ref("Background", canary["analysis"], "spec.strategy.canary.analysis.templates"))
    return out


# --- templates --------------------------------------------------------------------------------


def collect(template_refs: list[Obj], lookup: Lookup, path: str) -> list[Obj]:
    """The templates ``template_refs`` name, nested `spec.templates` included, each once."""
    found: list[Obj] = []
    for ref in template_refs or []:
        name = str(ref.get("templateName") or "")
        cluster = bool(ref.get("clusterScope"))
        t = lookup(name, cluster)
        kind = "ClusterAnalysisTemplate" if cluster else "AnalysisTemplate"
        if t is None:
            raise FieldError(path, name, f"{kind} '{name}' not found")
        found.append(t)
        inner = (t.get("spec") or {}).get("templates")
        if inner:
            found += collect(inner, lookup, "spec.templates")
    unique: list[Obj] = []
    seen: set[tuple[str, str]] = set()
    for t in found:  # Argo's FilterUniqueTemplates: by kind and name
        key = (str(t.get("kind") or ""), str(t["metadata"]["name"]))
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique


def _cluster(t: Obj) -> bool:
    return str(t.get("kind") or "") == "ClusterAnalysisTemplate" or \
        not t["metadata"].get("namespace")


def flatten(templates: list[Obj]) -> Obj:
    """One template spec from several: metrics, args, dryRun, measurementRetention.

    Namespaced templates come first, then cluster-scoped ones, as Argo orders them. Raises
    ValueError with Argo's words for duplicate metric names or conflicting arg values."""
    ordered = [t for t in templates if not _cluster(t)] + [t for t in templates if _cluster(t)]
    metrics: list[Obj] = []
    args: list[Obj] = []
    dry: list[Obj] = []
    retention: list[Obj] = []
    for t in ordered:
        ts = t.get("spec") or {}
        metrics += copy.deepcopy(ts.get("metrics") or [])
        dry += copy.deepcopy(ts.get("dryRun") or [])
        retention += copy.deepcopy(ts.get("measurementRetention") or [])
        for a in ts.get("args") or []:
            _append_arg(args, copy.deepcopy(a))
    names: set[str] = set()
    for m in metrics:
        if m.get("name") in names:
            raise ValueError(f"two metrics have the same name '{m.get('name')}'")
        names.add(str(m.get("name")))
    _unique_rules(dry, "Dry-Run")
    _unique_rules(retention, "Measurement Retention")
    return {"metrics": metrics, "args": args, "dryRun": dry, "measurementRetention": retention}


def _append_arg(args: list[Obj], new: Obj) -> None:
    for i, prev in enumerate(args):
        if prev.get("name") != new.get("name"):
            continue
        if "value" in prev and "value" in new and str(prev["value"]) != str(new["value"]):
            raise ValueError(f"Argument `{new.get('name')}` specified multiple times with "
                             f"different values: '{prev['value']}', '{new['value']}'")
        if "value" not in prev:
            args[i] = new
        return
    args.append(new)


def _unique_rules(rules: list[Obj], what: str) -> None:
    seen: set[str] = set()
    for r in rules:
        name = str(r.get("metricName", ""))
        if name in seen:
            raise ValueError(f"two {what} metric rules have the same name '{name}'")
        seen.add(name)


# --- args -------------------------------------------------------------------------------------


def rollout_args(args: list[Obj], stable_hash: str, latest_hash: str, rollout: Obj) -> list[Obj]:
    """A Rollout's `args` with their values: `value`, or from `valueFrom` (Argo's
    BuildArgumentsForRolloutAnalysisRun). Raises ValueError for a field path that has no value."""
    out: list[Obj] = []
    for a in args or []:
        value = str(a.get("value") or "")
        vf = a.get("valueFrom") or {}
        if vf.get("podTemplateHashValue") is not None:
            which = vf["podTemplateHashValue"]
            if which not in ("Stable", "Latest"):
                raise ValueError(f"args {a.get('name')}: podTemplateHashValue must be Stable or "
                                 f"Latest, not {which!r}")
            value = stable_hash if which == "Stable" else latest_hash
        elif vf.get("fieldRef"):
            value = field_value(rollout, str((vf["fieldRef"] or {}).get("fieldPath") or ""))
        out.append({"name": str(a.get("name")), "value": value})
    return out


_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['([^']*)'\]$")


def field_value(obj: Obj, path: str) -> str:
    """`fieldRef.fieldPath` on ``obj``: the downward API's metadata paths
    (`metadata.labels['env']`, `metadata.name`, ...) or any path to a scalar
    (`spec.template.spec.containers[0].image`, `status.stableRS`)."""
    meta = obj.get("metadata") or {}
    if path.startswith("metadata"):
        m = _SUBSCRIPT.match(path)
        if m:
            return str((meta.get(m.group(1).split(".")[1]) or {}).get(m.group(2), ""))
        if path in ("metadata.labels", "metadata.annotations"):
            items = sorted((meta.get(path.split(".")[1]) or {}).items())
            return "\n".join(f"{k}={json.dumps(str(v))}" for k, v in items)
        if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
            return str(meta.get(path.split(".")[1], ""))
        raise ValueError(f"unsupported fieldPath: {path}")
    cur: JSON = obj
    for section in filter(None, re.split(r"[.\[\]]+", path)):
        if isinstance(cur, list):
            if not section.isdigit():
                raise ValueError(f"invalid index '{section}'")
            if int(section) >= len(cur):
                raise ValueError(f"index {section} out of range")
            cur = cur[int(section)]
        elif isinstance(cur, dict):
            cur = cur.get(section)
        else:
            raise ValueError(f"invalid path {path} in rollout")
    if cur is None:
        raise ValueError(f"invalid path {path} in rollout")
    if isinstance(cur, dict | list):
        raise ValueError(f"path {path} in rollout must terminate in a primitive value")
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def merge_args(incoming: list[Obj], template_args: list[Obj]) -> list[Obj]:
    """The templates' args with the Rollout's values put in by name (an incoming arg that no
    template declares is ignored); raises ValueError naming the first arg left without a value."""
    out = copy.deepcopy(template_args)
    for a in incoming:
        for t in out:
            if t.get("name") == a.get("name"):
                if "value" in a and a["value"] is not None:
                    t["value"] = str(a["value"])
                    t.pop("valueFrom", None)
                elif a.get("valueFrom"):
                    t["valueFrom"] = a["valueFrom"]
    for t in out:
        if t.get("value") is None and not t.get("valueFrom"):
            raise ValueError(f"args.{t.get('name')} was not resolved")
    return out


def check_metrics(flat: Obj, path: str, names: list[str], background: bool) -> None:
    """Argo's checks of referenced templates: metrics resolve with placeholder values; metrics of
    a step or a blue/green analysis must end (`count`, or neither count nor interval)."""
    for t in flat["args"]:
        if t.get("valueFrom") and t.get("value") is not None:
            raise FieldError(path, f"templateNames: [{' '.join(names)}]",
                             f"arg '{t.get('name')}' has both Value and ValueFrom fields")
    values = {str(t.get("name")): "dummy-value" for t in flat["args"]}
    for m in flat["metrics"]:
        try:
            resolved = analysis_run.resolve(m, values)
            problem = analysis_run.validate_metric(resolved)
        except ValueError as e:
            problem = str(e)
        if problem:
            raise FieldError(path, f"templateNames: [{' '.join(names)}]",
                             f"metric {m.get('name')}: {problem}")
        if not background and analysis_run.effective_count(resolved) is None:
            raise FieldError(path, f"templateNames: [{' '.join(names)}]",
                             f"metric {m.get('name')} runs indefinitely. Invalid value for "
                             f"count: {m.get('count', '<nil>')}")


def check_ref(ref: Ref, lookup: Lookup, rollout: Obj,
              providers: Collection[str] = analysis_spec.PROVIDERS) -> None:
    """Raise FieldError when ``ref`` could not make an AnalysisRun (missing template, an arg
    without value, a bad metric), as Argo's ValidateRolloutReferencedResources does."""
    templates = collect(ref.spec.get("templates") or [], lookup, ref.path)
    names = [str(t["metadata"]["name"]) for t in templates]
    label = f"templateNames: [{' '.join(names)}]"
    for t in templates:
        problems = analysis_spec.template_problems(t, providers)
        if problems:
            raise FieldError(ref.path, label, problems[0])
    try:
        flat = flatten(templates)
        args = rollout_args(ref.spec.get("args") or [], "dummy-stable-hash", "dummy-new-hash",
                            rollout)
        merge_args(args, flat["args"])
    except ValueError as e:
        raise FieldError(ref.path, label, str(e)) from None
    check_metrics(flat, ref.path, names, ref.kind == "Background")


# --- the run ----------------------------------------------------------------------------------


def new_run(templates: list[Obj], args: list[Obj], ref: Obj, *, name: str, namespace: str,
            owner: Obj, labels: dict[str, str], annotations: dict[str, str]) -> Obj:
    """An AnalysisRun from ``templates`` with the caller's resolved ``args`` merged in.
    Raises ValueError as Argo's NewAnalysisRunFromTemplates (unresolved args, duplicates)."""
    flat = flatten(templates)
    merged = merge_args(args, flat["args"])
    dry = [*copy.deepcopy(ref.get("dryRun") or []), *flat["dryRun"]]
    keep = [*copy.deepcopy(ref.get("measurementRetention") or []), *flat["measurementRetention"]]
    _unique_rules(dry, "Dry-Run")
    _unique_rules(keep, "Measurement Retention")
    spec: Obj = {"metrics": flat["metrics"], "args": merged}
    if dry:
        spec["dryRun"] = dry
    if keep:
        spec["measurementRetention"] = keep
    meta_in = ref.get("analysisRunMetadata") or {}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {**labels, **(meta_in.get("labels") or {})},
                         "annotations": {**annotations, **(meta_in.get("annotations") or {})},
                         "ownerReferences": [{
                             "apiVersion": str(owner.get("apiVersion") or "argoproj.io/v1alpha1"),
                             "kind": str(owner.get("kind") or "Rollout"),
                             "name": owner["metadata"]["name"],
                             "uid": owner["metadata"].get("uid", ""), "controller": True,
                             "blockOwnerDeletion": True}]},
            "spec": spec}
