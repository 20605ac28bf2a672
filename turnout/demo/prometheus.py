"""A Prometheus pod (images ``prom/prometheus``, ``quay.io/prometheus/prometheus``).

Runs the host's real Prometheus server (Debian package ``prometheus``) on ``$POD_IP:9090``,
scraping turnout's Istio-named metrics (``$TURNOUT_METRICS_URL``, every 2 s), so analyses that
query ``http://prometheus.istio-system:9090`` — Argo Rollouts' and Flagger's examples — find
``istio_requests_total`` as they would on a cluster with Istio's Prometheus add-on. It also scrapes
every pod annotated ``prometheus.io/scrape: "true"`` (the ``kubernetes-pods`` job of the common
charts, Flagger's ``prometheus.install``), found through the cluster's HTTP service discovery,
with ``kubernetes_namespace``/``kubernetes_pod_name`` labels. The pod's own configuration (mounted
ConfigMaps) is not read.

Run: ``python -m turnout.demo.prometheus [the container's command line]``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from turnout.telemetry import scrape

CONFIG = """global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
- job_name: turnout-mesh
  metrics_path: {path}
  static_configs:
  - targets: ["{target}"]
- job_name: kubernetes-pods
  scrape_interval: 5s
  http_sd_configs:
  - url: "{scheme}://{target}{sd_path}"
    refresh_interval: 5s
"""


def config_text(metrics_url: str) -> str:
    parts = urlsplit(metrics_url)
    return CONFIG.format(path=parts.path or "/metrics", target=parts.netloc,
                         scheme=parts.scheme or "http", sd_path=scrape.SD_PATH)


def main(argv: Sequence[str] | None = None) -> None:
    del argv  # the image's own flags point at files this pod does not have
    binary = shutil.which("prometheus")
    if binary is None:
        print("prometheus: the host has no prometheus binary; install the Debian package "
              "`prometheus` (apt-get install prometheus)", file=sys.stderr, flush=True)
        sys.exit(1)
    pod_ip = os.environ.get("POD_IP", "127.0.0.1")
    metrics = os.environ.get("TURNOUT_METRICS_URL", "http://127.0.0.1:15090/metrics")
    work = Path(tempfile.mkdtemp(prefix="prometheus-", dir=os.getcwd()))
    (work / "prometheus.yml").write_text(config_text(metrics))
    proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address={pod_ip}:9090",
                             "--storage.tsdb.retention.time=2h"])

    def stop(signum: int, frame: FrameType | None) -> None:
        proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
