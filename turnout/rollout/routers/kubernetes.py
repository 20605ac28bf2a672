"""Flagger's `kubernetes` provider: Services only, no traffic weights.

Why this exists: without a mesh or an ingress, Flagger runs blue/green on plain Kubernetes: the
apex Service and `<svc>-primary` select the primary pods, `<svc>-canary` the target's, and the
analysis (usually a load test against `<svc>-canary`) runs for `iterations` ticks before the
primary is updated; Services are the whole routing (pkg/router/kubernetes_default.go: SetRoutes
does nothing). The Services themselves are written by the front end for every provider.
"""

from __future__ import annotations

from turnout.rollout.engine import Routes
from turnout.store.objects import Objects


class KubernetesRouter:
    def reconcile(self, objects: Objects) -> None:
        """Nothing beyond the Services."""

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        """Weights cannot be expressed with Services alone: the apex stays on the primary."""

    def get_routes(self, objects: Objects) -> Routes:
        return Routes(0)

    def finalize(self, objects: Objects) -> None:
        """Nothing to undo beyond the Services."""
