"""The lab of the seeds, played unattended: each step acts with kubectl and checks what it sees.

1. ecommerce v1 in ns1, the storefront on NodePort 30001;
2. seed 000's blue/green: a second advertisements Deployment behind the same Service gives a
   ~50/50 banner split, `turnout compare` shows 2.0 ~200 ms slower, and `kubectl delete -f`
   rolls it back;
3. an NGINX Ingress canary (canary-weight 50) on NodePort 32000;
4. seed 002's Istio path in ns3 behind the ingress gateway on 30003: home pages always get
   ads 1.0, product pages ~50/50.
Every check compares an observed figure with the expectation (splits within a binomial bound
computed for the sample size); the scenario fails if any check fails.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from turnout.cluster.state import StateDir
from turnout.demo import load

STOREFRONT, GATEWAY, INGRESS = 30001, 30003, 32000  # NodePorts the lab's manifests declare
Z = 4.0  # binomial bound: a correct 50/50 split fails it with probability < 1e-4


def binomial_ok(k: int, n: int, p: float = 0.5, z: float = Z) -> bool:
    return n > 0 and abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


def bound_text(n: int, p: float = 0.5, z: float = Z) -> str:
    half = z * math.sqrt(n * p * (1 - p))
    return f"{max(0, math.ceil(n * p - half))}–{math.floor(n * p + half)} of {n}"


@dataclass
class Check:
    step: str
    what: str
    observed: str
    expected: str
    ok: bool


@dataclass
class Scenario:
    state: StateDir
    port: int
    manifests: Path
    kubectl_bin: str
    console: Console
    quick: bool = False
    node_url: Callable[[int], str] = lambda node_port: f"http://127.0.0.1:{node_port}"
    """Where a NodePort is served: the cluster's port set may shift it."""
    checks: list[Check] = field(default_factory=list)

    # --- plumbing -----------------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | None = None) -> str:
        self.console.print(f"  [dim]$ kubectl {' '.join(args)}[/]")
        env = {"KUBECONFIG": str(self.state.kubeconfig), "PATH": "/usr/bin:/bin",
               "KUBECACHEDIR": str(self.state.root / "kubecache"), "HOME": str(self.state.root)}
        try:
            r = subprocess.run([self.kubectl_bin, *args], env=env, text=True,
                               capture_output=True, input=input, timeout=150)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"kubectl {' '.join(args)} did not finish in 150 s") from e
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{r.stderr.strip()}")
        return r.stdout

    def url(self, node_port: int) -> str:
        return self.node_url(node_port)

    def path(self, rel: str) -> str:
        return str(self.manifests / rel)

    def check(self, step: str, what: str, observed: str, expected: str, ok: bool) -> None:
        self.checks.append(Check(step, what, observed, expected, ok))
        mark = "[green]✔[/]" if ok else "[red]✘[/]"
        self.console.print(f"  {mark} {what}: {observed} (expected {expected})")

    def wait_rollouts(self, ns: str, *deployments: str) -> None:
        for d in deployments:
            self.kubectl("rollout", "status", f"deployment/{d}", "-n", ns, "--timeout=120s")

    def wait_until(self, what: str, cond: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def pods_gone(self, ns: str, selector: str, expect: int) -> Callable[[], bool]:
        def cond() -> bool:
            out = self.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "name")
            return len(out.split()) == expect
        return cond

    def n(self, full: int) -> int:
        return max(40, full // 3) if self.quick else full

    def api(self, path: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.state.request(self.port, path, timeout=30))
        return data

    # --- the story ----------------------------------------------------------------------------

    def run(self) -> bool:
        steps = [("1. ecommerce v1 in ns1", self.step_ecommerce),
                 ("2. blue/green of advertisements (seed 000)", self.step_blue_green),
                 ("3. NGINX Ingress canary, weight 50", self.step_ingress_canary),
                 ("4. Istio header canary in ns3 (seed 002)", self.step_istio)]
        for title, fn in steps:
            self.console.rule(f"[bold]{title}")
            t0 = time.monotonic()
            try:
                fn(title.split(".")[0])
            except RuntimeError as e:
                self.check(title.split(".")[0], "step ran", str(e), "no error", False)
            self.console.print(f"  [dim]({time.monotonic() - t0:.1f} s)[/]")
        self.summary()
        return all(c.ok for c in self.checks)

    def step_ecommerce(self, step: str) -> None:
        self.kubectl("apply", "-f", self.path("database/db.yaml"))
        self.kubectl("apply", "-f", self.path("ecommerce-v1") + "/")
        self.wait_rollouts("database", "db")
        self.wait_rollouts("ns1", "advertisements", "discounts", "frontend")
        n = self.n(30)
        tally = load.run(self.url(STOREFRONT), requests=n, concurrency=4)
        self.check(step, "storefront home pages answered", f"{tally.statuses[200]} of {n}",
                   f"{n} of {n}", tally.statuses[200] == n)
        self.check(step, "ad banner versions", dict(tally.ads).__repr__(), f"{{'1.0': {n}}}",
                   dict(tally.ads) == {"1.0": n})

    def step_blue_green(self, step: str) -> None:
        self.kubectl("apply", "-f", self.path("servicenetwork/advertisements.yaml"))
        self.wait_rollouts("ns1", "advertisements2")
        self.console.print(self.kubectl("get", "deployments", "-n", "ns1", "-l",
                                        "service=advertisements", "--show-labels"),
                           markup=False, highlight=False)
        n = self.n(200)
        tally = load.run(self.url(STOREFRONT), requests=n, concurrency=4)
        k = tally.ads.get("2.0", 0)
        self.check(step, "banners from ads 2.0", f"{k} of {sum(tally.ads.values())}",
                   bound_text(n), binomial_ok(k, n) and sum(tally.ads.values()) == n)
        self.compare(step, "ns1")
        self.kubectl("delete", "-f", self.path("servicenetwork/advertisements.yaml"))
        self.wait_until("advertisements2's pod to go",
                        self.pods_gone("ns1", "service=advertisements", 1))
        m = self.n(30)
        tally = load.run(self.url(STOREFRONT), requests=m, concurrency=4)
        self.check(step, "after rollback, banners", repr(dict(tally.ads)), f"{{'1.0': {m}}}",
                   dict(tally.ads) == {"1.0": m})

    def compare(self, step: str, ns: str) -> None:
        q = urllib.parse.urlencode({"baseline": "1.0", "candidate": "2.0", "since": "10m"})
        try:
            cmp = self.api(f"/turnout/v1/telemetry/services/{ns}/advertisements/compare?{q}")
        except OSError as e:
            self.check(step, "turnout compare", f"unavailable ({e})", "a comparison", False)
            return
        latency = cmp.get("latency")
        statement = str(latency.get("statement", "")) if isinstance(latency, dict) else ""
        diff = _p50_difference(cmp)
        self.console.print(f"  turnout compare advertisements -n {ns}: [bold]{statement}[/]")
        self.check(step, "p50 latency 2.0 − 1.0",
                   f"{diff:+.0f} ms" if diff is not None else "n/a", "+200 ± 20 ms",
                   diff is not None and abs(diff - 200) <= 20)

    def step_ingress_canary(self, step: str) -> None:
        self.kubectl("apply", "-f", self.path("ingress/ingressv1.yaml"))
        self.kubectl("apply", "-f", self.path("ingress/ecommerce-v2") + "/")
        self.wait_rollouts("ns1", "frontendv2")
        self.wait_until("the canary Ingress to take effect", lambda: "2.0" in load.run(
            self.url(INGRESS), requests=12, concurrency=4).storefront)
        n = self.n(200)
        tally = load.run(self.url(INGRESS), requests=n, concurrency=4)
        k = tally.storefront.get("2.0", 0)
        total = sum(tally.storefront.values())  # storefront 2.0 fails ~2 % of pages on purpose
        self.check(step, "storefront 2.0 pages through the Ingress", f"{k} of {total}",
                   bound_text(total), binomial_ok(k, total) and total >= 0.9 * n)
        self.check(step, "pages answered", f"{tally.statuses[200]} of {n}",
                   f"≥ {math.ceil(0.9 * n)} (2.0 returns 500 for ~2 %)",
                   tally.statuses[200] >= 0.9 * n)
        self.kubectl("delete", "-f", self.path("ingress/ecommerce-v2") + "/")
        self.kubectl("delete", "-f", self.path("ingress/ingressv1.yaml"))

    def step_istio(self, step: str) -> None:
        self.kubectl("apply", "-f", self.path("istio/ecommerce-istio") + "/")
        self.kubectl("label", "namespace", "ns3", "istio-injection=enabled", "--overwrite")
        self.kubectl("apply", "-f", self.path("istio/frontend-gateway.yaml"))
        self.kubectl("apply", "-f", self.path("istio/ads_v2/advertisements_v2.yaml"))
        self.wait_rollouts("ns3", "advertisements", "advertisements2", "discounts", "frontend")
        self.kubectl("apply", "-f", self.path("istio/ads_v2/destinationrule.yaml"))
        self.kubectl("apply", "-f", self.path("istio/ads_v2/virtualservice.yaml"))
        self.wait_until("the VirtualService to take effect", lambda: dict(
            load.run(self.url(GATEWAY), requests=12, concurrency=4).ads) == {"1.0": 12})
        n = self.n(60)
        home = load.run(self.url(GATEWAY), requests=n, concurrency=4)
        self.check(step, "home pages: ad banners", repr(dict(home.ads)), f"{{'1.0': {n}}}",
                   dict(home.ads) == {"1.0": n})
        m = self.n(200)
        products = load.run(self.url(GATEWAY), requests=m, concurrency=4, products=1.0)
        k = products.ads.get("2.0", 0)
        self.check(step, "product pages: banners from ads 2.0",
                   f"{k} of {sum(products.ads.values())}", bound_text(m),
                   binomial_ok(k, m) and sum(products.ads.values()) == m)

    def summary(self) -> None:
        table = Table(title="what the demo observed")
        for col in ("step", "check", "observed", "expected", ""):
            table.add_column(col)
        for c in self.checks:
            table.add_row(c.step, c.what, c.observed, c.expected,
                          "[green]ok[/]" if c.ok else "[red]FAILED[/]")
        self.console.print(table)


def _p50_difference(cmp: dict[str, object]) -> float | None:
    """The p50 difference (candidate − baseline, ms) from a telemetry comparison."""
    latency = cmp.get("latency")
    if isinstance(latency, dict):
        for q in latency.get("quantiles", []) or []:
            if isinstance(q, dict) and q.get("quantile") in (0.5, "p50"):
                d = q.get("difference")
                return float(d) if isinstance(d, int | float) else None
    return None
