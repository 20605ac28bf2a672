"""Steady traffic from a pod's proxy to a Service, counting every outcome: the load the
rollout end-to-end tests judge releases under."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable


class Traffic:
    """`threads` loops (~10 rps each) GET `url` through `proxy`; `classify` names a body's
    version. Bounded in time even if the test forgets to stop it; every failure is counted."""

    def __init__(self, proxy: str, url: str, classify: Callable[[str], str], threads: int = 4,
                 max_seconds: float = 300) -> None:
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
        self.url, self.classify, self.max_seconds = url, classify, max_seconds
        self.outcomes: Counter[str] = Counter()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(threads)]

    def loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                with self.opener.open(self.url, timeout=10) as r:
                    body = r.read().decode()
                self.outcomes[self.classify(body)] += 1
            except Exception as e:  # every failure is counted and reported
                self.outcomes[f"error: {e}"] += 1
            time.sleep(0.1)

    @property
    def errors(self) -> list[str]:
        return [k for k in self.outcomes if k.startswith("error")]

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)
