"""Printers for pods and the controllers that own them (Deployment, ReplicaSet, Job, …).

The pod STATUS and RESTARTS logic follows kube-apiserver's printPod step for step, because
it is what users read first (`CrashLoopBackOff`, `Init:0/2`, `Terminating`, `3 (25s ago)`).
Pure, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from turnout.kube.printers.common import (
    AGE,
    NAME,
    Cells,
    Printer,
    age,
    as_int,
    as_list,
    col,
    dig,
    field,
    format_label_selector,
    format_labels,
    human_duration,
    int_or_string,
    layout_containers,
    meta,
    name,
    parse_time,
    pod_template_containers,
    selector_string,
    since,
    spec,
    status,
    sub,
)
from turnout.types import Obj

CONTAINERS = col("Containers", "string", "Names of each container in the template.", priority=1)
IMAGES = col("Images", "string", "Images referenced by each container in the template.",
             priority=1)


def _selector_col(key: str) -> Obj:
    return col("Selector", "string", field(key), priority=1)


def _replicas(obj: Obj) -> int:
    """spec.replicas as the API server stores it: defaulted to 1 when unset."""
    return as_int(spec(obj).get("replicas"), 1)


# --- Pod --------------------------------------------------------------------------------------

def _restartable(container: Any) -> bool:
    return isinstance(container, dict) and container.get("restartPolicy") == "Always"


def _has_condition(obj: Obj, type_: str, reason: str | None = None) -> bool:
    for c in as_list(status(obj).get("conditions")):
        if isinstance(c, dict) and c.get("type") == type_:
            if reason is not None:
                return c.get("reason") == reason
            return c.get("status") == "True"
    return False


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    t = parse_time(candidate)
    if t is None:
        return current
    return t if current is None or t > current else current


def _terminated_reason(term: Obj, prefix: str) -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if as_int(term.get("signal")):
        return f"{prefix}Signal:{as_int(term.get('signal'))}"
    return f"{prefix}ExitCode:{as_int(term.get('exitCode'))}"


def pod_row(pod: Obj, now: datetime) -> Cells:
    st, sp = status(pod), spec(pod)
    phase = str(st.get("phase") or "")
    reason = str(st.get("reason") or phase)
    if _has_condition(pod, "PodScheduled", reason="SchedulingGated"):
        reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in as_list(sp.get("initContainers"))
                  if isinstance(c, dict)}
    total = len(as_list(sp.get("containers"))) + sum(1 for c in init_specs.values()
                                                     if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    initializing = False
    init_statuses = [c for c in as_list(st.get("initContainerStatuses")) if isinstance(c, dict)]
    for i, cs in enumerate(init_statuses):
        sidecar = _restartable(init_specs.get(cs.get("name")))
        restarts += as_int(cs.get("restartCount"))
        finished = dig(cs, "lastState", "terminated", "finishedAt")
        last_restart = _later(last_restart, finished)
        if sidecar:
            sidecar_restarts += as_int(cs.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = sub(cs, "state")
        term = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(term, dict) and as_int(term.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(term, dict):
            reason = _terminated_reason(term, "Init:")
        elif (isinstance(waiting, dict) and waiting.get("reason")
              and waiting.get("reason") != "PodInitializing"):
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(as_list(sp.get('initContainers')))}"
        initializing = True
        break

    if not initializing or _has_condition(pod, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        statuses = [c for c in as_list(st.get("containerStatuses")) if isinstance(c, dict)]
        for cs in reversed(statuses):
            restarts += as_int(cs.get("restartCount"))
            last_restart = _later(last_restart, dig(cs, "lastState", "terminated", "finishedAt"))
            state = sub(cs, "state")
            waiting, term = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(term, dict):
                reason = _terminated_reason(term, "")
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(pod, "Ready") else "NotReady"

    deleting = bool(meta(pod).get("deletionTimestamp"))
    if deleting and st.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    ips = [p.get("ip") for p in as_list(st.get("podIPs")) if isinstance(p, dict)]
    pod_ip = (ips[0] if ips else st.get("podIP")) or "<none>"
    gates = [g.get("conditionType") for g in as_list(sp.get("readinessGates"))
             if isinstance(g, dict)]
    gates_cell = "<none>"
    if gates:
        true = sum(1 for g in gates if _has_condition(pod, str(g)))
        gates_cell = f"{true}/{len(gates)}"
    return [name(pod), f"{ready}/{total}", reason, restarts_cell, age(pod, now),
            pod_ip, sp.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            gates_cell]


def pod_conditions(pod: Obj) -> list[Obj]:
    phase = status(pod).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return []


POD = Printer(
    columns=(
        NAME,
        col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        col("Status", "string", "The aggregate status of the containers in this pod."),
        col("Restarts", "string", "The number of times the containers in this pod have been "
            "restarted and when the last container in this pod has restarted."),
        AGE,
        col("IP", "string", field("PodStatus.podIP"), priority=1),
        col("Node", "string", field("PodSpec.nodeName"), priority=1),
        col("Nominated Node", "string", field("PodStatus.nominatedNodeName"), priority=1),
        col("Readiness Gates", "string", field("PodSpec.readinessGates"), priority=1),
    ),
    row=pod_row,
    conditions=pod_conditions,
)


# --- replica controllers ----------------------------------------------------------------------

def deployment_row(obj: Obj, now: datetime) -> Cells:
    st = status(obj)
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), f"{as_int(st.get('readyReplicas'))}/{_replicas(obj)}",
            as_int(st.get("updatedReplicas")), as_int(st.get("availableReplicas")), age(obj, now),
            names, images, selector_string(spec(obj).get("selector"))]


DEPLOYMENT = Printer(
    columns=(
        NAME,
        col("Ready", "string", "Number of the pod with ready state"),
        col("Up-to-date", "string", field("DeploymentStatus.updatedReplicas")),
        col("Available", "string", field("DeploymentStatus.availableReplicas")),
        AGE, CONTAINERS, IMAGES, _selector_col("DeploymentSpec.selector"),
    ),
    row=deployment_row,
)


def replicaset_row(obj: Obj, now: datetime) -> Cells:
    st = status(obj)
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), _replicas(obj), as_int(st.get("replicas")), as_int(st.get("readyReplicas")),
            age(obj, now), names, images, format_label_selector(spec(obj).get("selector"))]


REPLICASET = Printer(
    columns=(
        NAME,
        col("Desired", "integer", field("ReplicaSetSpec.replicas")),
        col("Current", "integer", field("ReplicaSetStatus.replicas")),
        col("Ready", "integer", field("ReplicaSetStatus.readyReplicas")),
        AGE, CONTAINERS, IMAGES, _selector_col("ReplicaSetSpec.selector"),
    ),
    row=replicaset_row,
)


def rc_row(obj: Obj, now: datetime) -> Cells:
    st = status(obj)
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), _replicas(obj), as_int(st.get("replicas")), as_int(st.get("readyReplicas")),
            age(obj, now), names, images, format_labels(spec(obj).get("selector"))]


REPLICATIONCONTROLLER = Printer(
    columns=(
        NAME,
        col("Desired", "integer", field("ReplicationControllerSpec.replicas")),
        col("Current", "integer", field("ReplicationControllerStatus.replicas")),
        col("Ready", "integer", field("ReplicationControllerStatus.readyReplicas")),
        AGE, CONTAINERS, IMAGES, _selector_col("ReplicationControllerSpec.selector"),
    ),
    row=rc_row,
)


def statefulset_row(obj: Obj, now: datetime) -> Cells:
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), f"{as_int(status(obj).get('readyReplicas'))}/{_replicas(obj)}",
            age(obj, now), names, images]


STATEFULSET = Printer(
    columns=(NAME, col("Ready", "string", "Number of the pod with ready state"), AGE,
             CONTAINERS, IMAGES),
    row=statefulset_row,
)


def daemonset_row(obj: Obj, now: datetime) -> Cells:
    st = status(obj)
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), as_int(st.get("desiredNumberScheduled")),
            as_int(st.get("currentNumberScheduled")), as_int(st.get("numberReady")),
            as_int(st.get("updatedNumberScheduled")), as_int(st.get("numberAvailable")),
            format_labels(dig(obj, "spec", "template", "spec", "nodeSelector")), age(obj, now),
            names, images, format_label_selector(spec(obj).get("selector"))]


DAEMONSET = Printer(
    columns=(
        NAME,
        col("Desired", "integer", field("DaemonSetStatus.desiredNumberScheduled")),
        col("Current", "integer", field("DaemonSetStatus.currentNumberScheduled")),
        col("Ready", "integer", field("DaemonSetStatus.numberReady")),
        col("Up-to-date", "integer", field("DaemonSetStatus.updatedNumberScheduled")),
        col("Available", "integer", field("DaemonSetStatus.numberAvailable")),
        col("Node Selector", "string", field("PodSpec.nodeSelector")),
        AGE, CONTAINERS, IMAGES, _selector_col("DaemonSetSpec.selector"),
    ),
    row=daemonset_row,
)


# --- batch ------------------------------------------------------------------------------------

def _job_condition(obj: Obj, type_: str) -> bool:
    for c in as_list(status(obj).get("conditions")):
        if isinstance(c, dict) and c.get("type") == type_:
            return c.get("status") == "True"
    return False


def job_row(obj: Obj, now: datetime) -> Cells:
    sp, st = spec(obj), status(obj)
    succeeded = as_int(st.get("succeeded"))
    if sp.get("completions") is not None:
        completions = f"{succeeded}/{as_int(sp.get('completions'))}"
    elif as_int(sp.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {as_int(sp.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration((end or now) - start)
    if _job_condition(obj, "Complete"):
        state = "Complete"
    elif _job_condition(obj, "Failed"):
        state = "Failed"
    elif meta(obj).get("deletionTimestamp"):
        state = "Terminating"
    elif _job_condition(obj, "Suspended"):
        state = "Suspended"
    elif _job_condition(obj, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = layout_containers(pod_template_containers(obj))
    return [name(obj), state, completions, duration, age(obj, now), names, images,
            format_label_selector(sp.get("selector"))]


JOB = Printer(
    columns=(
        NAME,
        col("Status", "string", "Status of the job."),
        col("Completions", "string", field("JobStatus.succeeded")),
        col("Duration", "string", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES, _selector_col("JobSpec.selector"),
    ),
    row=job_row,
)


def cronjob_row(obj: Obj, now: datetime) -> Cells:
    sp, st = spec(obj), status(obj)
    last = "<none>"
    if st.get("lastScheduleTime"):
        last = since(st.get("lastScheduleTime"), now)
    suspend = "True" if sp.get("suspend") is True else "False"  # defaulted to false on create
    job_spec = dig(sp, "jobTemplate", "spec") or {}
    names, images = layout_containers(dig(job_spec, "template", "spec", "containers"))
    return [name(obj), str(sp.get("schedule", "")), sp.get("timeZone") or "<none>", suspend,
            len(as_list(st.get("active"))), last, age(obj, now), names, images,
            format_label_selector(job_spec.get("selector"))]


CRONJOB = Printer(
    columns=(
        NAME,
        col("Schedule", "string", field("CronJobSpec.schedule")),
        col("Timezone", "string", field("CronJobSpec.timeZone")),
        col("Suspend", "boolean", field("CronJobSpec.suspend")),
        col("Active", "integer", field("CronJobStatus.active")),
        col("Last Schedule", "string", field("CronJobStatus.lastScheduleTime")),
        AGE, CONTAINERS, IMAGES, _selector_col("JobSpec.selector"),
    ),
    row=cronjob_row,
)


# --- autoscaling, disruption budgets, revisions -----------------------------------------------

def _metric(spec_m: Obj, status_m: Obj | None) -> str:
    kind = spec_m.get("type")
    key = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
           "ContainerResource": "containerResource"}.get(str(kind))
    if key is None:
        return "<unknown type>"
    src: Obj = spec_m.get(key) or {}
    target: Obj = src.get("target") or {}
    cur_src: Obj = (status_m or {}).get(key) or {}
    current: Obj = cur_src.get("current") or {}
    have = bool(cur_src)
    if key in ("resource", "containerResource"):
        res = str(src.get("name", ""))
        if target.get("averageValue") is not None:
            cur = str(current.get("averageValue")) if have else "<unknown>"
            return f"{res}: {cur}/{target['averageValue']}"
        cur = "<unknown>"
        if have and current.get("averageUtilization") is not None:
            cur = f"{as_int(current['averageUtilization'])}%"
        tgt = "<auto>"
        if target.get("averageUtilization") is not None:
            tgt = f"{as_int(target['averageUtilization'])}%"
        return f"{res}: {cur}/{tgt}"
    if key == "pods":
        cur = str(current.get("averageValue")) if have else "<unknown>"
        return f"{cur}/{target.get('averageValue')}"
    if target.get("averageValue") is not None:
        cur = "<unknown>"
        if have and current.get("averageValue") is not None:
            cur = str(current["averageValue"])
        return f"{cur}/{target['averageValue']} (avg)"
    cur = str(current.get("value")) if have else "<unknown>"
    return f"{cur}/{target.get('value')}"


def hpa_row(obj: Obj, now: datetime) -> Cells:
    sp, st = spec(obj), status(obj)
    ref = sp.get("scaleTargetRef") or {}
    metrics = [m for m in as_list(sp.get("metrics")) if isinstance(m, dict)]
    statuses = [m for m in as_list(st.get("currentMetrics")) if isinstance(m, dict)]
    if not metrics:
        targets = "<none>"
    else:
        parts = [_metric(m, statuses[i] if i < len(statuses) else None)
                 for i, m in enumerate(metrics)]
        targets = ", ".join(parts[:2])
        if len(parts) > 2:
            targets += f" + {len(parts) - 2} more..."
    min_pods = "<unset>" if sp.get("minReplicas") is None else str(as_int(sp["minReplicas"]))
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", targets, min_pods,
            as_int(sp.get("maxReplicas")), as_int(st.get("currentReplicas")), age(obj, now)]


HPA = Printer(
    columns=(
        NAME,
        col("Reference", "string", field("HorizontalPodAutoscalerSpec.scaleTargetRef")),
        col("Targets", "string", field("HorizontalPodAutoscalerSpec.metrics")),
        col("MinPods", "string", field("HorizontalPodAutoscalerSpec.minReplicas")),
        col("MaxPods", "string", field("HorizontalPodAutoscalerSpec.maxReplicas")),
        col("Replicas", "string", field("HorizontalPodAutoscalerStatus.currentReplicas")),
        AGE,
    ),
    row=hpa_row,
)


def pdb_row(obj: Obj, now: datetime) -> Cells:
    sp = spec(obj)
    min_a = "N/A" if sp.get("minAvailable") is None else int_or_string(sp["minAvailable"])
    max_u = "N/A" if sp.get("maxUnavailable") is None else int_or_string(sp["maxUnavailable"])
    return [name(obj), min_a, max_u, as_int(status(obj).get("disruptionsAllowed")), age(obj, now)]


PDB = Printer(
    columns=(
        NAME,
        col("Min Available", "string", "The minimum number of pods that must be available."),
        col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        col("Allowed Disruptions", "integer",
            "Calculated number of pods that may be disrupted at this time."),
        AGE,
    ),
    row=pdb_row,
)


def controllerrevision_row(obj: Obj, now: datetime) -> Cells:
    controller = "<none>"
    for ref in as_list(meta(obj).get("ownerReferences")):
        if isinstance(ref, dict) and ref.get("controller") is True:
            api_version = str(ref.get("apiVersion", ""))
            group = api_version.split("/")[0] if "/" in api_version else ""
            kind = str(ref.get("kind", ""))
            qualified = f"{kind}.{group}" if group else kind
            controller = f"{qualified.lower()}/{ref.get('name', '')}" if kind else str(
                ref.get("name", ""))
            break
    return [name(obj), controller, as_int(obj.get("revision")), age(obj, now)]


CONTROLLERREVISION = Printer(
    columns=(NAME, col("Controller", "string", "Controller of the object"),
             col("Revision", "string", field("ControllerRevision.revision")), AGE),
    row=controllerrevision_row,
)


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): POD,
    ("", "ReplicationController"): REPLICATIONCONTROLLER,
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "ReplicaSet"): REPLICASET,
    ("apps", "StatefulSet"): STATEFULSET,
    ("apps", "DaemonSet"): DAEMONSET,
    ("apps", "ControllerRevision"): CONTROLLERREVISION,
    ("batch", "Job"): JOB,
    ("batch", "CronJob"): CRONJOB,
    ("autoscaling", "HorizontalPodAutoscaler"): HPA,
    ("policy", "PodDisruptionBudget"): PDB,
}
