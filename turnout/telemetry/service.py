"""The telemetry service the cluster runs: tail the access log, enrich, store, expose, export.

The ingest loop wakes a few times a second, reads the complete lines Envoy has written, enriches
them with the pod directory, stores them in DuckDB, adds them to the Istio metrics and hands them
to the OTLP exporter; only then does it checkpoint the file offset (so a crash re-reads rather
than loses). The heavy part runs in a worker thread so the API server's event loop stays free.
Lines that are not access-log objects are counted as malformed; access-log lines whose duration
is missing, unparsable, NaN, infinite or negative are refused (never stored as 0 ms), counted by
reason and logged once per reason: both counts are on `/metrics`
(`turnout_telemetry_lines_malformed_total`, `turnout_telemetry_lines_refused_total{reason}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from turnout.telemetry import compare as compare_mod
from turnout.telemetry import prometheus, scrape
from turnout.telemetry.exposition import MetricsServer
from turnout.telemetry.identity import Directory
from turnout.telemetry.model import Model
from turnout.telemetry.otlp import Exporter
from turnout.telemetry.prometheus import Registry
from turnout.telemetry.records import BadDuration, Record, parse_line
from turnout.telemetry.store import Store
from turnout.telemetry.tail import Tailer
from turnout.types import Obj

log = logging.getLogger("turnout.telemetry")

DEFAULT_METRICS_PORT = 15090


class Telemetry:
    def __init__(self, state_dir: Path, access_log: Path, *,
                 retention: timedelta = timedelta(hours=24), max_rows: int = 5_000_000,
                 metrics_port: int | None = DEFAULT_METRICS_PORT,
                 exporter: Exporter | None = None, poll_interval: float = 0.2,
                 pod_grace: timedelta = timedelta(minutes=5)) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.retention = retention
        self.max_rows = max_rows
        self.metrics_port = metrics_port
        self.poll_interval = poll_interval
        self.directory = Directory(pod_grace.total_seconds())
        self.store = Store(self.state_dir / "telemetry.duckdb")
        self.model = Model(self.store)
        self.registry = Registry()
        self.tailer = Tailer(Path(access_log), self.state_dir / "telemetry.offset")
        self.exporter = exporter if exporter is not None else Exporter.from_env()
        self.metrics: MetricsServer | None = None
        self._scraped: dict[tuple[str, str], Obj] = {}
        """Pods annotated `prometheus.io/scrape`, for a Prometheus pod's service discovery."""
        self.ingested = 0
        self.malformed = 0
        self.refused: Counter[str] = Counter(dict.fromkeys(BadDuration.REASONS, 0))
        """Access-log lines refused for their duration, by `BadDuration.reason` (every reason
        present from the start, so readers never see the dict change size)."""
        self._ingest_lock = threading.Lock()
        self._dir_lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0

    # -- pods -----------------------------------------------------------------------------------
    def update_pod(self, pod: Obj, deleted: bool = False) -> None:
        with self._dir_lock:
            now = time.time()
            self.directory.update(pod, now, deleted)
            self.directory.expire(now)
            meta = pod.get("metadata") or {}
            key = (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))
            if deleted or not scrape.wants_scrape(pod):
                self._scraped.pop(key, None)
            else:
                self._scraped[key] = pod

    def scrape_targets(self) -> list[Obj]:
        with self._dir_lock:
            pods = list(self._scraped.values())
        return scrape.targets(pods)

    # -- ingest ---------------------------------------------------------------------------------
    def ingest_once(self) -> int:
        """Read, store and expose one chunk of new lines; returns how many lines were read."""
        with self._ingest_lock:
            lines = self.tailer.read()
            if not lines:
                return 0
            records: list[Record] = []
            with self._dir_lock:
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        r = parse_line(line, self.directory)
                    except BadDuration as e:
                        self._refuse(e)
                        continue
                    if r is None:
                        self.malformed += 1
                    else:
                        records.append(r)
            self.store.insert(records)
            self.registry.observe(records)
            self.tailer.commit()
            self.ingested += len(records)
            if self.exporter is not None:
                self.exporter.export(records)
            return len(lines)

    def _refuse(self, e: BadDuration) -> None:
        if not self.refused[e.reason]:
            log.warning("telemetry refused an access-log line: %s; such lines are not stored "
                        "(counted in turnout_telemetry_lines_refused_total{reason=\"%s\"})",
                        e, e.reason)
        self.refused[e.reason] += 1

    def ingest_counts(self) -> Obj:
        """What the ingest loop did with the lines it read, since start."""
        return {"stored": self.ingested, "malformed": self.malformed,
                "refused": dict(self.refused)}

    def prune(self) -> int:
        cutoff = time.time() - self.retention.total_seconds()
        return self.store.prune(cutoff, self.max_rows)

    def _ingest_all(self) -> None:
        while self.ingest_once():
            pass

    async def flush(self) -> None:
        await asyncio.to_thread(self._ingest_all)

    async def start(self) -> None:
        if self.metrics_port is not None and self.metrics is None:
            server = MetricsServer(self.prometheus_text, self.metrics_port,
                                   targets=self.scrape_targets)
            try:
                await server.start()
            except OSError as e:  # the cluster tells its pods this port: never run without it
                raise RuntimeError(f"telemetry /metrics could not listen on "
                                   f"127.0.0.1:{self.metrics_port}: {e}") from e
            self.metrics = server
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="telemetry-ingest")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.metrics is not None:
            await self.metrics.stop()
            self.metrics = None
        await self.flush()
        if self.exporter is not None:
            self.exporter.close()
        self.store.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.flush()
                if time.monotonic() - self._last_prune > 60:
                    self._last_prune = time.monotonic()
                    await asyncio.to_thread(self.prune)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep ingesting whatever one batch did
                log.exception("telemetry ingest failed")
            await asyncio.sleep(self.poll_interval)

    # -- queries --------------------------------------------------------------------------------
    def services(self, since: timedelta) -> list[Obj]:
        return self.model.services(time.time(), since.total_seconds())

    def deployed(self, namespace: str, service: str) -> dict[str, float]:
        """Arm key (revision, else version) -> when its newest known pod was created."""
        resolved = self.model.resolve(namespace, service)
        out: dict[str, float] = {}
        with self._dir_lock:
            pods = self.directory.pods()
        for p in pods:
            if p.namespace == namespace and p.service == resolved and p.created:
                key = p.revision or p.version
                out[key] = max(out.get(key, 0.0), p.created)
        return out

    def versions(self, namespace: str, service: str, since: timedelta | None) -> list[Obj]:
        """One item per revision, in the order they were deployed."""
        return self.model.versions(namespace, service, time.time(),
                                   since.total_seconds() if since is not None else None,
                                   self.deployed(namespace, service))

    def no_upstream(self, namespace: str, service: str, since: timedelta | None) -> Obj | None:
        """The service's requests no pod answered (e.g. `503 UH`), or None."""
        return self.model.no_upstream(namespace, service, time.time(),
                                      since.total_seconds() if since is not None else None)

    def compare(self, namespace: str, service: str, baseline: str | None,
                candidate: str | None, since: timedelta) -> Obj:
        return compare_mod.compare(self.model, namespace, service, baseline, candidate,
                                   time.time(), since.total_seconds(),
                                   deployed=self.deployed(namespace, service))

    def endpoints(self, namespace: str, service: str, version: str, since: timedelta) -> list[Obj]:
        """`version`: an arm's label, revision or unambiguous version name."""
        resolved = self.model.resolve(namespace, service)
        return self.model.endpoints(namespace, resolved,
                                    self.model.arm(namespace, resolved, version).key,
                                    time.time(), since.total_seconds())

    def timeseries(self, namespace: str, service: str, since: timedelta) -> Obj:
        return self.model.timeseries(namespace, service, time.time(), since.total_seconds())

    def samples(self, namespace: str, service: str, version: str,
                since: timedelta) -> tuple[list[float], int]:
        """Every request latency (ms, microsecond resolution) of an arm (label, revision or
        unambiguous version name) in the window, and how many were errors."""
        return self.model.samples(namespace, service,
                                  self.model.arm(namespace, service, version).key,
                                  time.time() - since.total_seconds())

    def series(self, namespace: str, since: timedelta, *, start: float | None = None,
               workload: str = "", revision: str = "", service: str = "", version: str = ""
               ) -> tuple[list[float], list[bool]]:
        """Per-request latencies (ms) and error flags, in the order the requests became known
        (a later read of a growing window extends an earlier one), of one workload (at one
        revision) or one service version: a rollout's arm."""
        begin = time.time() - since.total_seconds() if start is None else start
        return self.model.series(namespace, begin, workload=workload, revision=revision,
                                 service=service, version=version)

    def prometheus_text(self) -> str:
        return self.registry.render() + prometheus.ingest_text(
            self.ingested, self.malformed, self.refused)
