"""Pod status from container records: phase, conditions, container statuses (pure, no I/O)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from turnout.runtime.catalog import normalize
from turnout.types import Obj


def now_rfc3339(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


@dataclass
class ContainerRecord:
    """What the kubelet knows about one container; becomes one entry of containerStatuses."""

    name: str
    image: str
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str | None = None

    def to_status(self) -> Obj:
        out: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": "turnout-catalog://" + normalize(self.image),
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out

    @property
    def waiting_fresh(self) -> bool:
        """Waiting without ever having run (image, config, creating): the pod is Pending."""
        return "waiting" in self.state and "terminated" not in self.last_state

    @property
    def exit_code(self) -> int | None:
        term = self.state.get("terminated")
        return int(term["exitCode"]) if term else None


def phase(init_done: bool, init_failed: bool, apps: list[ContainerRecord], restart_policy: str
          ) -> str:
    """The pod phase with the kubelet's rules (simplified for one node)."""
    if init_failed:
        return "Failed"
    if not init_done or any(r.waiting_fresh for r in apps):
        return "Pending"
    if any("running" in r.state or "waiting" in r.state for r in apps):
        return "Running"
    if restart_policy == "Always":
        return "Running"
    if any(r.exit_code != 0 for r in apps):
        return "Failed" if restart_policy == "Never" else "Running"
    return "Succeeded"


def condition(ctype: str, ok: bool, prev: dict[str, Obj], now: str, reason: str = "",
              message: str = "") -> Obj:
    status = "True" if ok else "False"
    old = prev.get(ctype)
    since = old["lastTransitionTime"] if old and old.get("status") == status else now
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": since}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def conditions(*, init_done: bool, inits: list[ContainerRecord], apps: list[ContainerRecord],
               pod_phase: str, prev: list[Obj], now: str, sandbox: bool = True) -> list[Obj]:
    by_type = {c.get("type", ""): c for c in prev}
    terminal = pod_phase in ("Succeeded", "Failed")
    unready = [r.name for r in apps if not r.ready]
    uninit = [r.name for r in inits if not r.ready]
    all_ready = not unready and not terminal
    why = "PodCompleted" if terminal else "ContainersNotReady"
    msg = "" if terminal else f"containers with unready status: [{' '.join(unready)}]"
    return [
        condition("PodReadyToStartContainers", sandbox and not terminal, by_type, now),
        condition("Initialized", init_done, by_type, now,
                  "" if init_done else "ContainersNotInitialized",
                  "" if init_done else
                  f"containers with incomplete status: [{' '.join(uninit)}]"),
        condition("Ready", all_ready, by_type, now, "" if all_ready else why,
                  "" if all_ready else msg),
        condition("ContainersReady", all_ready, by_type, now, "" if all_ready else why,
                  "" if all_ready else msg),
        condition("PodScheduled", True, by_type, now),
    ]


def pod_status(*, phase_: str, pod_ip: str, host_ip: str, start_time: str,
               inits: list[ContainerRecord], apps: list[ContainerRecord], conds: list[Obj],
               message: str = "", reason: str = "") -> Obj:
    status: Obj = {
        "phase": phase_,
        "conditions": conds,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "qosClass": "BestEffort",
        "containerStatuses": [r.to_status() for r in apps],
    }
    if inits:
        status["initContainerStatuses"] = [r.to_status() for r in inits]
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    return status
