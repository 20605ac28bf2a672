"""Automated canary rollouts: one pure engine, traffic routers, Argo Rollouts and Flagger fronts.

Wiring: ``controllers(objects, metrics)`` returns the controllers the cluster's Manager runs.
"""

from __future__ import annotations

from turnout.analysis import Thresholds
from turnout.controllers.base import Controller
from turnout.rollout.analysisrun_controller import AnalysisRunController
from turnout.rollout.argo_controller import RolloutController
from turnout.rollout.experiment_controller import ExperimentController
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.job_provider import JobProvider
from turnout.rollout.metrics import FakeMetrics, MetricSource
from turnout.rollout.providers import Providers
from turnout.store.objects import Objects


def controllers(objects: Objects, metrics: MetricSource,
                thresholds: Thresholds | None = None) -> list[Controller]:
    """The Argo Rollout, Experiment, AnalysisRun and Flagger Canary controllers, reading
    ``metrics``."""
    providers = Providers(metrics)
    providers.by_name["job"] = JobProvider(objects)  # Argo's examples measure with pods
    return [RolloutController(objects, tuple(providers.by_name)), ExperimentController(objects),
            AnalysisRunController(objects, providers),
            CanaryController(objects, metrics, thresholds)]


__all__ = ["AnalysisRunController", "CanaryController", "ExperimentController", "FakeMetrics",
           "MetricSource", "RolloutController", "controllers"]
