"""Traffic routers: the four-method interface every way of splitting traffic implements.

Why this exists: the engine only says "canary gets 20 %, requests with this header go to it,
mirror 100 %"; how that becomes API objects (Istio VirtualService weights, a Service selector,
an NGINX canary Ingress) is one small router per mechanism, as in Flagger. Each router keeps its
object rendering in pure functions (``render_*``) so tests can check the objects produced for
given weights, and does its few reads and writes through ``Objects``.
"""

from __future__ import annotations

from typing import Protocol

from turnout.rollout.engine import Routes
from turnout.store.objects import Objects


class Router(Protocol):
    def reconcile(self, objects: Objects) -> None:
        """Create or adopt the routing objects (weights untouched if they exist)."""

    def set_routes(self, objects: Objects, routes: Routes) -> None:
        """Make the routing objects send traffic as ``routes`` says."""

    def get_routes(self, objects: Objects) -> Routes:
        """The split the routing objects currently implement."""

    def finalize(self, objects: Objects) -> None:
        """Leave the objects routing everything to stable (on deletion of the rollout)."""
