"""The controllers of the workload kinds beyond Deployments: Job, CronJob, StatefulSet,
DaemonSet, in the order the cluster starts them."""

from __future__ import annotations

from turnout.controllers.base import Controller
from turnout.controllers.cronjob import CronJobController
from turnout.controllers.daemonset import DaemonSetController
from turnout.controllers.job import JobController
from turnout.controllers.statefulset import StatefulSetController
from turnout.store.objects import Objects


def workload_controllers(objects: Objects) -> list[Controller]:
    return [JobController(objects), CronJobController(objects), StatefulSetController(objects),
            DaemonSetController(objects)]
