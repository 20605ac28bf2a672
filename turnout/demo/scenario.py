"""The lab, played unattended on the lab's own files: each step types the lab's commands and checks
what a user would see.

The files are the lab's ``manifest-files/``, verbatim (turnout ships a copy in
``turnout/examples/lab/manifest-files``). Every command is one the lab's pages or its environment
script run, typed the same way from the folder that holds ``manifest-files/``
(``kubectl apply -f manifest-files/database -n database``):

0. the lab's environment: the NGINX ingress controller, the namespaces database, ns1, ns2, ns3
   and fake-traffic, the database, the ecommerce app in ns1, the fake traffic and ns2's Secret.
   Istio is turnout's own (the gateway ``istio-system/istio-ingressgateway`` on NodePort 30003),
   so ``istio/istio-config.yaml``, which installs Istio 1.10's control plane, is not applied;
1. the storefront on NodePort 30001, its ads read from the lab's PostgreSQL;
2. seed 000's blue/green: a second advertisements Deployment behind the same Service gives a
   ~50/50 banner split, `turnout compare` shows 2.0 ~200 ms slower, `kubectl delete -f` rolls back;
3. an NGINX Ingress, then a canary Ingress (canary-weight 50) to the storefront 2.0, on 32000;
4. the app again in ns2 with ads 2.0 behind a canary Ingress in ns2; then the lab deletes ns1
   and ns2;
5. seed 002's Istio path in ns3 behind the gateway: both ads versions until the DestinationRule
   and VirtualService; then home pages always get ads 1.0, product pages ~50/50.

Every check compares an observed figure with the expectation (splits within a binomial bound
computed for the sample size). The scenario fails if any check fails.
"""

from __future__ import annotations

import json
import math
import re
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

STOREFRONT, NS2_STOREFRONT, GATEWAY, INGRESS = 30001, 30002, 30003, 32000  # the lab's NodePorts
Z = 4.0  # binomial bound: a correct 50/50 split fails it with probability < 1e-4
LAB_NAMESPACES = ("database", "ns1", "ns2", "ns3", "fake-traffic")
"""The namespaces the lab's environment creates (istio-system and ingress-nginx are built in)."""
ADS_FROM_DB = re.compile(r"reading (\d+) rows from PostgreSQL at (\S+)")
NS2_CANARY = "banners from ads 2.0 through the Ingress"


def binomial_ok(k: int, n: int, p: float = 0.5, z: float = Z) -> bool:
    return n > 0 and abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


def bound_text(n: int, p: float = 0.5, z: float = Z) -> str:
    half = z * math.sqrt(n * p * (1 - p))
    return f"{max(0, math.ceil(n * p - half))}–{math.floor(n * p + half)} of {n}"


def lab_root(path: Path) -> Path:
    """The lab's ``manifest-files`` folder: `path` itself, or the one inside it."""
    inner = path / "manifest-files"
    return inner if inner.is_dir() else path


@dataclass
class Check:
    step: str
    what: str
    observed: str
    expected: str
    ok: bool

    @property
    def status(self) -> str:
        return "ok" if self.ok else "FAILED"


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

    def __post_init__(self) -> None:
        self.manifests = lab_root(self.manifests.resolve())

    # --- plumbing -----------------------------------------------------------------------------

    def f(self, rel: str) -> str:
        """A lab file or folder as the lab types it: ``manifest-files/<rel>``."""
        return f"{self.manifests.name}/{rel}"

    def kubectl(self, *args: str, quiet: bool = False) -> str:
        """Run kubectl from the folder holding the lab's files, as a lab user would; `quiet`
        for the polls behind a wait, which print nothing."""
        if not quiet:
            self.console.print(f"  [dim]$ kubectl {' '.join(args)}[/]", highlight=False,
                               soft_wrap=True)
        env = {"KUBECONFIG": str(self.state.kubeconfig), "PATH": "/usr/bin:/bin",
               "KUBECACHEDIR": str(self.state.root / "kubecache"), "HOME": str(self.state.root)}
        try:
            r = subprocess.run([self.kubectl_bin, *args], env=env, text=True, capture_output=True,
                               cwd=self.manifests.parent, timeout=150)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"kubectl {' '.join(args)} did not finish in 150 s") from e
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{r.stderr.strip()}")
        return r.stdout

    def show(self, *args: str) -> None:
        """Run a kubectl command whose output the lab asks the user to look at, and print it."""
        self.console.print(self.kubectl(*args).rstrip(), markup=False, highlight=False)

    def url(self, node_port: int) -> str:
        return self.node_url(node_port)

    def check(self, step: str, what: str, observed: str, expected: str, ok: bool) -> None:
        c = Check(step, what, observed, expected, ok)
        self.checks.append(c)
        mark = "[green]✔[/]" if ok else "[red]✘[/]"
        self.console.print(f"  {mark} {what}: {observed} (expected {expected})")

    def wait_rollouts(self, ns: str, *deployments: str) -> None:
        for d in deployments:
            self.kubectl("rollout", "status", f"deployment/{d}", "-n", ns, "--timeout=120s")

    def wait_until(self, what: str, cond: Callable[[], bool], timeout: float = 30) -> None:
        if not self.poll(cond, timeout):
            raise RuntimeError(f"timed out waiting for {what}")

    @staticmethod
    def poll(cond: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(interval)
        return False

    def n(self, full: int) -> int:
        return max(40, full // 3) if self.quick else full

    def api(self, path: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.state.request(self.port, path, timeout=30))
        return data

    def check_all_ads(self, step: str, what: str, node_port: int, version: str, n: int,
                      products: float = 0.0) -> None:
        # as a user reloads a page that is not up yet: `rollout status` returns once the pods
        # are Ready, and the mesh learns of them a few tens of milliseconds later
        self.wait_until(f"{self.url(node_port)} to answer", lambda: load.run(
            self.url(node_port), requests=1, concurrency=1).statuses.get(200) == 1, timeout=15)
        tally = load.run(self.url(node_port), requests=n, concurrency=4, products=products)
        self.check(step, what, repr(dict(tally.ads)), f"{{'{version}': {n}}}",
                   dict(tally.ads) == {version: n})

    # --- the story ----------------------------------------------------------------------------

    def run(self) -> bool:
        steps = [("0. the lab's environment", self.step_environment),
                 ("1. ecommerce v1 in ns1", self.step_ecommerce),
                 ("2. blue/green of advertisements (seed 000)", self.step_blue_green),
                 ("3. NGINX Ingress canary, weight 50", self.step_ingress_canary),
                 ("4. Ingress canary from another namespace", self.step_ingress_namespaces),
                 ("5. Istio header canary in ns3 (seed 002)", self.step_istio)]
        for title, fn in steps:
            self.console.rule(f"[bold]{title}")
            t0 = time.monotonic()
            try:
                fn(title.split(".")[0])
            except RuntimeError as e:
                self.check(title.split(".")[0], "step ran", str(e), "no error", False)
            self.console.print(f"  [dim]({time.monotonic() - t0:.1f} s)[/]")
        self.summary()
        return self.passed()

    def passed(self) -> bool:
        """Every check held."""
        return all(c.ok for c in self.checks)

    def step_environment(self, _step: str) -> None:
        self.console.print("  [dim]Istio: turnout's own gateway (istio-system/istio-ingressgateway,"
                           " NodePort 30003) stands in for istio/istio-config.yaml[/]")
        self.kubectl("apply", "-f", self.f("ingress-controller"))
        for ns in LAB_NAMESPACES:
            self.kubectl("create", "ns", ns)
        self.kubectl("apply", "-f", self.f("database"), "-n", "database")
        self.kubectl("apply", "-f", self.f("ecommerce-v1"), "-n", "ns1")
        self.kubectl("apply", "-f", self.f("fake-traffic"), "-n", "fake-traffic")
        self.kubectl("apply", "-f", self.f("ingress_ns/db.yaml"), "-n", "ns2")
        self.wait_rollouts("database", "db")
        self.wait_rollouts("ns1", "advertisements", "discounts", "frontend")
        self.wait_rollouts("fake-traffic", "regular-traffic", "regular-traffic-ingress",
                           "regular-traffic-istio", "random-traffic-ingress")
        self.show("get", "pods", "-A")

    def step_ecommerce(self, step: str) -> None:
        self.show("get", "deployment", "-n", "ns1", "--selector=app=ecommerce")
        n = self.n(30)
        tally = load.run(self.url(STOREFRONT), requests=n, concurrency=4)
        self.check(step, "storefront home pages answered", f"{tally.statuses[200]} of {n}",
                   f"{n} of {n}", tally.statuses[200] == n)
        self.check(step, "ad banner versions", repr(dict(tally.ads)), f"{{'1.0': {n}}}",
                   dict(tally.ads) == {"1.0": n})
        logs = ("logs", "deployment/advertisements", "-n", "ns1", "--tail=500")
        self.kubectl(*logs)
        found: list[str] = []

        def ads_read_the_database() -> bool:  # the service re-reads its tables every 10 s
            out = self.kubectl(*logs, quiet=True)
            found[:] = [f"{m[1]} rows from {m[2]}" for m in ADS_FROM_DB.finditer(out)][-1:]
            return bool(found)

        self.poll(ads_read_the_database, timeout=30, interval=1.0)
        self.check(step, "ads read from the lab's PostgreSQL", found[0] if found else "no rows",
                   "rows from db.database.svc.cluster.local",
                   bool(found) and found[0].endswith("db.database.svc.cluster.local"))

    def step_blue_green(self, step: str) -> None:
        self.kubectl("apply", "-f", self.f("servicenetwork/advertisements.yaml"))
        self.wait_rollouts("ns1", "advertisements2")
        self.show("get", "deployments", "-n", "ns1", "-l", "service=advertisements",
                  "--show-labels")
        n = self.n(200)
        tally = load.run(self.url(STOREFRONT), requests=n, concurrency=4)
        k = tally.ads.get("2.0", 0)
        self.check(step, "banners from ads 2.0", f"{k} of {sum(tally.ads.values())}",
                   bound_text(n), binomial_ok(k, n) and sum(tally.ads.values()) == n)
        self.compare(step, "ns1")
        self.kubectl("delete", "-f", self.f("servicenetwork/advertisements.yaml"))
        self.wait_until("advertisements2's pod to go",
                        self.pods_gone("ns1", "service=advertisements", 1))
        self.check_all_ads(step, "after rollback, banners", STOREFRONT, "1.0", self.n(30))

    def pods_gone(self, ns: str, selector: str, expect: int) -> Callable[[], bool]:
        def cond() -> bool:
            out = self.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "name",
                               quiet=True)
            return len(out.split()) == expect
        return cond

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
        self.show("get", "pods", "-n", "ingress-nginx", "-l",
                  "app.kubernetes.io/component=controller")
        self.kubectl("apply", "-f", self.f("ingress/ingressv1.yaml"))
        self.wait_until("the Ingress to take effect", lambda: load.run(
            self.url(INGRESS), requests=4, concurrency=4).statuses[200] == 4)
        n = self.n(30)
        tally = load.run(self.url(INGRESS), requests=n, concurrency=4)
        self.check(step, "storefront versions through the Ingress", repr(dict(tally.storefront)),
                   f"{{'1.0': {n}}}", dict(tally.storefront) == {"1.0": n})
        self.kubectl("apply", "-f", self.f("ingress/ecommerce-v2/frontend.yaml"))
        self.kubectl("apply", "-f", self.f("ingress/ecommerce-v2/frontend-svc.yaml"))
        self.wait_rollouts("ns1", "frontendv2")
        self.kubectl("apply", "-f", self.f("ingress/ecommerce-v2/ingressv2.yaml"))
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
        self.kubectl("delete", "-f", self.f("ingress/ecommerce-v2") + "/")

    def step_ingress_namespaces(self, step: str) -> None:
        self.kubectl("apply", "-f", self.f("ingress_ns/ecommerce-v2") + "/")
        self.wait_rollouts("ns2", "advertisements", "discounts", "frontend")
        self.check_all_ads(step, "ns2's storefront (NodePort 30002): banners", NS2_STOREFRONT,
                           "2.0", 10)
        self.kubectl("apply", "-f", self.f("ingress_ns/ingressv2.yaml"))
        self.poll(lambda: "2.0" in load.run(self.url(INGRESS), requests=12, concurrency=4).ads,
                  timeout=5)
        n = self.n(200)
        tally = load.run(self.url(INGRESS), requests=n, concurrency=4)
        k, total = tally.ads.get("2.0", 0), sum(tally.ads.values())
        self.check(step, NS2_CANARY, f"{k} of {total}", bound_text(total),
                   binomial_ok(k, total) and total >= 0.9 * n)
        self.kubectl("delete", "ns", "ns1")
        self.kubectl("delete", "ns", "ns2")
        left = set(self.kubectl("get", "ns", "-o", "name").split())
        gone = not {"namespace/ns1", "namespace/ns2"} & left
        self.check(step, "ns1 and ns2 deleted", "gone" if gone else "still there", "gone", gone)

    def step_istio(self, step: str) -> None:
        self.kubectl("label", "namespace", "ns3", "istio-injection=enabled")
        self.kubectl("apply", "-f", self.f("istio/ecommerce-istio"), "-n", "ns3")
        self.wait_rollouts("ns3", "advertisements", "discounts", "frontend")
        self.show("get", "pods", "-n", "ns3", "-o",
                  'custom-columns=NAME:.metadata.name,CONTAINERS:.spec.containers[*].image')
        self.kubectl("apply", "-f", self.f("istio/frontend-gateway.yaml"))
        self.kubectl("apply", "-f", self.f("istio/ads_v2/advertisements_v2.yaml"))
        self.wait_rollouts("ns3", "advertisements2")
        self.wait_until("the Gateway to take effect", lambda: load.run(
            self.url(GATEWAY), requests=4, concurrency=4).statuses[200] == 4)
        n = self.n(60)
        both = load.run(self.url(GATEWAY), requests=n, concurrency=4, products=1.0)
        self.check(step, "before the rules: banner versions", repr(dict(both.ads)),
                   "both 1.0 and 2.0", set(both.ads) == {"1.0", "2.0"})
        self.kubectl("apply", "-f", self.f("istio/ads_v2/destinationrule.yaml"))
        self.kubectl("apply", "-f", self.f("istio/ads_v2/virtualservice.yaml"))
        self.wait_until("the VirtualService to take effect", lambda: dict(
            load.run(self.url(GATEWAY), requests=12, concurrency=4).ads) == {"1.0": 12})
        self.check_all_ads(step, "home pages: ad banners", GATEWAY, "1.0", self.n(60))
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
        style = {"ok": "[green]ok[/]", "FAILED": "[red]FAILED[/]"}
        for c in self.checks:
            table.add_row(c.step, c.what, c.observed, c.expected, style[c.status])
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
