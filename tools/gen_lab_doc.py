"""Writes docs/lab.md: the seeds' walkthrough run on turnout, with the real output of each command.

Run from the repo root with the lab's manifests beside it (`../shared/lab/manifest-files`):
`.venv/bin/python tools/gen_lab_doc.py`. It starts a throw-away cluster, types the seeds'
commands, and records what they print. No NodePort may be in use by another cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = REPO.parent / "shared" / "lab"
sys.path.insert(0, str(REPO))

from turnout.demo import load  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    state = tmp / "state"
    work = tmp / "lab"
    shutil.copytree(LAB / "manifest-files", work / "manifest-files")
    env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"),
           "KUBECACHEDIR": str(tmp / "cache"), "COLUMNS": "120", "TERM": "dumb",
           "TURNOUT_STATE_DIR": str(state),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out: list[str] = []

    def run(cmd: str, show: bool = True) -> str:
        r = subprocess.run(cmd, shell=True, cwd=work, env=env, text=True, capture_output=True,
                           timeout=180)
        text = (r.stdout + r.stderr).rstrip()
        text = re.sub(r"(/tmp|/work|/root|/home)[^\s\"']*", "…", text)
        if show:
            out.append(f"```console\n$ {cmd}\n{text}\n```\n")
        return text

    def say(text: str) -> None:
        out.append(text.strip() + "\n")

    run("turnout up --detach", show=False)
    try:
        say("""# The lab on turnout

The two seed pages of the progressive-delivery lab, typed as written on a turnout cluster with
the lab's own `manifest-files/`. Everything below is real output, produced by
`tools/gen_lab_doc.py` (ages and generated names differ from run to run).

```console
$ turnout up --detach
$ export KUBECONFIG=$(turnout kubeconfig)
```

## Before the seeds: the ecommerce app in ns1

The lab's cluster already has `ns1`; on a fresh turnout cluster create it first.""")
        run("kubectl create namespace ns1")
        run("kubectl apply -f manifest-files/ecommerce-v1/")
        for d in ("advertisements", "discounts", "frontend"):
            run(f"kubectl rollout status deployment/{d} -n ns1 --timeout=90s", show=False)
        run("kubectl get pods -n ns1 -o wide")
        say("The storefront is on NodePort 30001: open http://127.0.0.1:30001/ .")
        say("""## Seed 000: a second version behind the same Service""")
        run("diff -u manifest-files/ecommerce-v1/advertisements.yaml "
            "manifest-files/servicenetwork/advertisements.yaml")
        run("kubectl apply -f manifest-files/servicenetwork/advertisements.yaml")
        run("kubectl rollout status deployment/advertisements2 -n ns1 --timeout=90s", show=False)
        run("kubectl get deployments -n ns1 -l service=advertisements --show-labels")
        run("kubectl get pods -n ns1 -l service=advertisements --show-labels")
        run('kubectl get svc advertisements -n ns1 '
            '-o custom-columns="Name:metadata.name,Selector:spec.selector"')
        tally = load.run("http://127.0.0.1:30001", requests=200, concurrency=4)
        say(f"""Refreshing the storefront: 200 page loads gave the banner "Version 1.0"
{tally.ads.get('1.0', 0)} times and "Version 2.0" {tally.ads.get('2.0', 0)} times — the Service
picks either pod at random. Where the seed opens Datadog's deployment comparison, turnout has it
built in:""")
        time.sleep(1.5)
        run("turnout compare advertisements -n ns1")
        say("""The new version adds about 200 ms. Roll it back:""")
        run("kubectl delete -f manifest-files/servicenetwork/advertisements.yaml")
        say("""## Seed 002: Istio canary by header

The lab's ns3 runs the same app in a namespace labelled for Istio.""")
        run("kubectl create namespace ns3")
        run("kubectl label namespace ns3 istio-injection=enabled")
        run("kubectl apply -f manifest-files/istio/ecommerce-istio/")
        run("kubectl apply -f manifest-files/istio/frontend-gateway.yaml")
        run("diff -u manifest-files/istio/ecommerce-istio/advertisements.yaml "
            "manifest-files/istio/ads_v2/advertisements_v2.yaml")
        run("kubectl apply -f manifest-files/istio/ads_v2/advertisements_v2.yaml")
        for d in ("advertisements", "advertisements2", "frontend"):
            run(f"kubectl rollout status deployment/{d} -n ns3 --timeout=90s", show=False)
        run("kubectl get pods -n ns3 -o custom-columns=NAME:.metadata.name,"
            "CONTAINERS:\".spec.containers[*].image\"")
        run("kubectl apply -f manifest-files/istio/ads_v2/destinationrule.yaml")
        run("kubectl apply -f manifest-files/istio/ads_v2/virtualservice.yaml")
        time.sleep(1)
        home = load.run("http://127.0.0.1:30003", requests=60, concurrency=4)
        products = load.run("http://127.0.0.1:30003", requests=200, concurrency=4,
                            products=1.0)
        say(f"""Through the Istio ingress gateway (http://127.0.0.1:30003/): 60 home pages
showed {dict(home.ads)}; 200 product pages showed {dict(products.ads)}. What the mesh does with
each request, and why:""")
        run("turnout explain -n ns3 http://advertisements:5002/ads -H 'page-source: products'")
        run("turnout explain -n ns3 http://advertisements:5002/ads -H 'page-source: home'")
        run("turnout analyze -n ns3")
        run("kubectl get virtualservices,destinationrules -n ns3")
        say("""## Going further

`turnout demo` plays all of this unattended and checks every figure; `docs/rollouts.md` shows
the seed's final question — keep 2.0 or roll back? — answered by an Argo Rollout that aborts by
itself on the latency shift.""")
    finally:
        subprocess.run(["turnout", "down"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    (REPO / "docs" / "lab.md").write_text("\n".join(out))
    print("wrote docs/lab.md")


if __name__ == "__main__":
    main()
