"""Writes docs/lab.md: the lab's pages typed on turnout, with the real output of each command.

Run from the repo root: `.venv/bin/python tools/gen_lab_doc.py`. It copies the lab's files from
the package (`turnout/examples/lab/manifest-files`, verbatim) into a scratch folder, starts a
throw-away cluster there with `--auto-ports` (so it works beside any other cluster on the
machine), types the lab's commands and records what they print. Where the cluster serves a
NodePort on another host port, the doc shows what a user of a default cluster sees
(http://127.0.0.1:30001/), and no path of this machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from turnout.demo import load  # noqa: E402

LAB = REPO / "turnout" / "examples" / "lab" / "manifest-files"
STOREFRONT, NS2_STOREFRONT, GATEWAY, INGRESS = 30001, 30002, 30003, 32000
FIXED_MTIME = 1625097600  # 2021-07-01 00:00 UTC: `diff -u` headers read the same on every run
FIND_FILES = ("python -c 'import turnout, pathlib; "
              "print(pathlib.Path(turnout.__file__).parent / \"examples/lab/manifest-files\")'")


class Cluster:
    """A scratch cluster and the folder the lab's commands are typed from."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.work = tmp / "lab"
        shutil.copytree(LAB, self.work / "manifest-files")
        for p in (self.work / "manifest-files").rglob("*"):
            os.utime(p, (FIXED_MTIME, FIXED_MTIME))
        state = tmp / "state"
        self.env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"),
                    "KUBECACHEDIR": str(tmp / "cache"), "COLUMNS": "100", "TERM": "dumb",
                    "TZ": "UTC", "TURNOUT_STATE_DIR": str(state),
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.status: dict[str, Any] = {}

    def sh(self, cmd: str, timeout: float = 180) -> str:
        r = subprocess.run(cmd, shell=True, cwd=self.work, env=self.env, text=True,
                           capture_output=True, timeout=timeout)
        return (r.stdout + r.stderr).rstrip()

    def refresh(self) -> None:
        self.status = json.loads(self.sh("turnout status -o json"))

    def url(self, node_port: int) -> str:
        """Where this cluster serves a NodePort (its port set may shift it)."""
        if node_port == GATEWAY:
            return str(self.status["gateway"]).rstrip("/")
        if node_port == INGRESS:
            return str(self.status["ingress"]).rstrip("/")
        for entry in self.status["nodePorts"]:
            if entry["nodePort"] == node_port:
                return str(entry["url"]).rstrip("/")
        raise KeyError(f"no Service has NodePort {node_port}")

    def as_default(self, text: str) -> str:
        """Output as a default cluster (port set 0) would print it, with no local paths."""
        offset, n = int(self.status["nodePortOffset"]), int(self.status["portSet"])
        for node_port in (STOREFRONT, NS2_STOREFRONT, GATEWAY, INGRESS):
            text = text.replace(f"127.0.0.1:{node_port + offset}", f"127.0.0.1:{node_port}")
        if n:
            text = re.sub(rf"\b127\.{10 + n}\.", "127.10.", text)
            text = re.sub(rf"\b127\.{96 + n}\.", "127.96.", text)
        text = text.replace(str(self.work) + "/", "").replace(str(self.tmp), "…")
        return re.sub(r"(/tmp|/work|/root|/home)/[^\s\"']*", "…", text)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    c = Cluster(tmp)
    out: list[str] = []

    def run(*cmds: str) -> str:
        """Type commands, record them with their output in one console block."""
        shown = []
        text = ""
        for cmd in cmds:
            text = c.as_default(c.sh(cmd))
            shown.append(f"$ {cmd}" + (f"\n{text}" if text else ""))
        out.append("```console\n" + "\n".join(shown) + "\n```\n")
        return text

    def quiet(cmd: str) -> None:
        c.sh(cmd)

    def say(text: str) -> None:
        out.append(refill(text.strip()) + "\n")

    def rollouts(ns: str, *deployments: str) -> None:
        for d in deployments:
            quiet(f"kubectl rollout status deployment/{d} -n {ns} --timeout=120s")

    c.sh("turnout up --detach --auto-ports")
    try:
        c.refresh()
        intro(say)
        say("""## The lab's environment

The lab's set-up script installed Istio and the NGINX ingress controller, created the
namespaces and deployed the database, the ecommerce app in `ns1` and some fake traffic. On
turnout, type its commands — except Istio's: turnout's gateway is built in (see
[below](#where-turnout-differs-from-the-labs-cluster)). The two warnings are harmless:
turnout creates the `ingress-nginx` namespace and Service itself, without kubectl's
last-applied annotation.""")
        run("kubectl apply -f manifest-files/ingress-controller")
        run(*(f"kubectl create ns {ns}" for ns in ("database", "ns1", "ns2", "ns3",
                                                    "fake-traffic")))
        run("kubectl apply -f manifest-files/database -n database",
            "kubectl apply -f manifest-files/ecommerce-v1 -n ns1",
            "kubectl apply -f manifest-files/fake-traffic -n fake-traffic",
            "kubectl apply -f manifest-files/ingress_ns/db.yaml -n ns2")
        rollouts("database", "db")
        rollouts("ns1", "advertisements", "discounts", "frontend")
        c.refresh()
        say("The lab's step 3 looks at the app:")
        run("kubectl get deployment -n ns1 --selector=app=ecommerce && "
            "kubectl get deployment -n database")
        run("kubectl get pods -n ns1 -o wide")
        say("""The storefront is on NodePort 30001: open http://127.0.0.1:30001/ (on a cluster
started with `--auto-ports`, `turnout status` shows where NodePort 30001 is served).""")

        say("## Seed 000: a second version behind the same Service (lab step 6)")
        run("diff -u manifest-files/ecommerce-v1/advertisements.yaml "
            "manifest-files/servicenetwork/advertisements.yaml")
        run("kubectl apply -f manifest-files/servicenetwork/advertisements.yaml")
        rollouts("ns1", "advertisements2")
        run("kubectl get deployments -n ns1 -l service=advertisements --show-labels")
        run("kubectl get pods -n ns1 -l service=advertisements --show-labels")
        run('kubectl get svc advertisements -n ns1 '
            '-o custom-columns="Name:metadata.name,Selector:spec.selector"')
        tally = load.run(c.url(STOREFRONT), requests=200, concurrency=4)
        say(f"""Refreshing the storefront: 200 page loads gave the banner "Version 1.0"
{tally.ads.get('1.0', 0)} times and "Version 2.0" {tally.ads.get('2.0', 0)} times — the Service
picks either pod at random. Where the seed opens Datadog's deployment comparison, turnout has it
built in:""")
        time.sleep(1.5)
        run("turnout compare advertisements -n ns1")
        say("The new version adds about 200 ms. Roll it back:")
        run("kubectl delete -f manifest-files/servicenetwork/advertisements.yaml")

        say("""## An NGINX Ingress canary (lab steps 7 and 8)

The Ingress controller's NodePort is 32000: http://127.0.0.1:32000/ .""")
        run("kubectl get pods -n ingress-nginx -l app.kubernetes.io/component=controller")
        run("kubectl apply -f manifest-files/ingress/ingressv1.yaml")
        run("diff -u manifest-files/ingress/ingressv1.yaml "
            "manifest-files/ingress/ecommerce-v2/ingressv2.yaml")
        run("kubectl apply -f manifest-files/ingress/ecommerce-v2/frontend.yaml && "
            "kubectl apply -f manifest-files/ingress/ecommerce-v2/frontend-svc.yaml")
        rollouts("ns1", "frontendv2")
        run("kubectl get deployments -n ns1  --show-labels | grep frontend")
        run("kubectl apply -f manifest-files/ingress/ecommerce-v2/ingressv2.yaml")
        time.sleep(1)
        tally = load.run(c.url(INGRESS), requests=200, concurrency=4)
        say(f"""200 page loads through the Ingress: storefront 1.0 served
{tally.storefront.get('1.0', 0)}, storefront 2.0 {tally.storefront.get('2.0', 0)}; HTTP 500:
{tally.statuses.get(500, 0)} (the 2.0 storefront fails about 2 % of its pages on purpose, the
lab's "slightly higher error rate"). Revert it as the lab asks:""")
        run("kubectl delete -f manifest-files/ingress/ecommerce-v2/")

        say("## An Ingress canary from another namespace (lab step 9)")
        run("kubectl apply -f manifest-files/ingress_ns/ecommerce-v2/")
        rollouts("ns2", "advertisements", "discounts", "frontend")
        c.refresh()
        run("kubectl get deploy -n ns2 && kubectl get svc -n ns2")
        run("diff -u manifest-files/ingress/ingressv1.yaml "
            "manifest-files/ingress_ns/ingressv2.yaml")
        run("kubectl apply -f manifest-files/ingress_ns/ingressv2.yaml")
        time.sleep(1)
        ns2 = load.run(c.url(NS2_STOREFRONT), requests=20, concurrency=4)
        tally = load.run(c.url(INGRESS), requests=200, concurrency=4)
        say(f"""ns2's own storefront (NodePort 30002) shows the 2.0 banner: {dict(ns2.ads)}. But
**this step does not work on turnout yet**: through the Ingress, 200 page loads showed
{dict(tally.ads)}. ingress-nginx matches a canary Ingress to the main Ingress of the same host
and path in any namespace; turnout only within one namespace, so the canary in `ns2` is not
applied to `ns1`'s Ingress. The lab then removes both namespaces:""")
        run("kubectl delete ns ns1 && kubectl delete ns ns2")

        say("""## Seed 002: Istio canary by header (lab steps 10 to 12)

The lab's `ns3` runs the same app in a namespace labelled for Istio.""")
        run("kubectl label namespace ns3 istio-injection=enabled")
        run("kubectl apply -f manifest-files/istio/ecommerce-istio -n ns3")
        rollouts("ns3", "advertisements", "discounts", "frontend")
        run("kubectl get pods -n ns3 -o custom-columns=NAME:.metadata.name,"
            "CONTAINERS:\".spec.containers[*].image\"")
        run("kubectl apply -f manifest-files/istio/frontend-gateway.yaml")
        say("The Istio ingress gateway's NodePort is 30003: http://127.0.0.1:30003/ .")
        run("diff -u manifest-files/istio/ecommerce-istio/advertisements.yaml "
            "manifest-files/istio/ads_v2/advertisements_v2.yaml")
        run("kubectl apply -f manifest-files/istio/ads_v2/advertisements_v2.yaml")
        rollouts("ns3", "advertisements2")
        time.sleep(1)
        both = load.run(c.url(GATEWAY), requests=60, concurrency=4, products=1.0)
        say(f"""Before any rule, 60 product pages through the gateway showed {dict(both.ads)}:
the Service selects both pods. (Istio balances to the endpoint with the fewest requests in
flight, so the slower 2.0 gets less than half.)""")
        run("kubectl apply -f manifest-files/istio/ads_v2/destinationrule.yaml")
        run("kubectl apply -f manifest-files/istio/ads_v2/virtualservice.yaml")
        time.sleep(1)
        home = load.run(c.url(GATEWAY), requests=60, concurrency=4)
        products = load.run(c.url(GATEWAY), requests=200, concurrency=4, products=1.0)
        say(f"""Through the gateway: 60 home pages showed {dict(home.ads)}; 200 product pages
showed {dict(products.ads)}. What the mesh does with each request, and why:""")
        run("turnout explain -n ns3 http://advertisements:5002/ads -H 'page-source: products'")
        run("turnout explain -n ns3 http://advertisements:5002/ads -H 'page-source: home'")
        run("turnout analyze -n ns3")
        run("kubectl get virtualservices,destinationrules -n ns3")
        differences(say)
    finally:
        c.sh("turnout down")
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(out)
    for leak in (str(tmp), str(REPO), str(Path.home())):
        assert leak not in text, f"{leak} would be printed in docs/lab.md"
    (REPO / "docs" / "lab.md").write_text(text)
    print("wrote docs/lab.md")


def refill(text: str, width: int = 96) -> str:
    """Re-wrap the plain paragraphs of Markdown text (figures put in by f-strings leave ragged
    lines); headings, lists and fenced blocks stay as written."""
    blocks = text.split("\n\n")
    keep = ("#", "- ", "```")
    return "\n\n".join(
        b if b.startswith(keep) or "\n```" in b or "\n- " in b
        else textwrap.fill(" ".join(b.split()), width, break_on_hyphens=False,
                           break_long_words=False)
        for b in blocks)


def intro(say: Any) -> None:
    say(f"""# The lab on turnout

The progressive-delivery lab's pages, typed as written on a turnout cluster with the lab's own
files. Everything below is real output, produced by `tools/gen_lab_doc.py` (ages, generated
names and some counts differ from run to run). `turnout demo` plays the same story unattended
and checks every figure.

## The lab's files

The lab works in a folder holding `manifest-files/`: its environment fetched them with
`git clone -b progressive https://github.com/arapulido/katacoda-scenarios-files.git
manifest-files` (Apache-2.0). turnout ships a verbatim copy, byte for byte, with its `LICENSE`:
`turnout/examples/lab/manifest-files/` in the source tree. In an installed turnout, print its
path with

```sh
{FIND_FILES}
```

and copy it where you want to work, so that the lab's commands run as written:

```sh
cp -r "$({FIND_FILES})" manifest-files
```

## A cluster

```console
$ turnout up --detach
$ export KUBECONFIG=$(turnout kubeconfig)
```

If another cluster holds the default ports, `turnout up --detach --auto-ports` picks free ones;
`turnout status` then shows where each NodePort is served (NodePort 30001 may be on
http://127.0.0.1:20001/). This page shows a default cluster's URLs.""")


def differences(say: Any) -> None:
    say("""## Where turnout differs from the lab's cluster

- **Istio is built in.** turnout serves `istio-system/istio-ingressgateway` (NodePort 30003)
  and the mesh itself; there is no Istio control plane to install, so the lab's
  `istio/istio-config.yaml` is not applied. Applying it anyway goes wrong: its
  `PodDisruptionBudget`s are `policy/v1beta1` (not served since Kubernetes 1.25), Istio 1.10's
  images have no turnout catalog entry (ImagePullBackOff), and its `istio-ingressgateway`
  Service replaces turnout's: its four other ports are given NodePorts 30000, 30001, 30002
  and 30004, and the lab's `ecommerce-v1/frontend-svc.yaml` then fails on NodePort 30001
  ("provided port is already allocated").
- **No sidecar containers.** Pods in `istio-injection=enabled` namespaces keep one container
  (`1/1`, not the lab's `2/2`); each pod's traffic goes through turnout's Envoy instead.
- **The NGINX controller is a stand-in**: the pod of `ingress-controller/nginx.yaml` only
  answers health checks, turnout's Envoy serves the Ingress objects. Its admission-webhook
  `Job`s stay at `0/1`: turnout runs no Jobs, and nothing needs them.
- **A canary Ingress applies only within its own namespace** (step 9 above).
- **Datadog** is replaced by turnout's own telemetry: `turnout services`, `turnout versions`,
  `turnout compare`, the dashboard (`turnout dashboard`).

`docs/rollouts.md` answers the seed's last question — keep 2.0 or roll back? — with an Argo
Rollout that aborts by itself on the latency shift.""")


if __name__ == "__main__":
    main()
