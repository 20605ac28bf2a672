"""Detection power and false rollbacks: turnout's sequential analysis against Kayenta and Flagger.

Simulated baseline/canary traffic with known distributions (lognormal latency around 50 ms with
a 2 % slow tail around 250 ms; 1 % errors) runs through each judge:

* turnout: `CanaryAnalysis`, verdict checked after every request;
* Kayenta fixed: Mann-Whitney/Hodges-Lehmann judge (confidence 0.98, tolerance 0.25) once, at a
  fixed number of requests per arm (the fixed-horizon baseline);
* Kayenta peeking: the same judge after every request from 50 requests per arm on;
* Mann-Whitney peeking: the plain test (two-sided p < 0.02, canary higher) on latency after
  every request from 50 per arm, without Kayenta's effect tolerance;
* Flagger: p99 <= 500 ms and success rate >= 99 % on the canary's last 100 requests, checked
  every 100 canary requests, rollback after 5 failed checks.

Kayenta judges errors as a series of per-interval error rates (one value per 50 requests), as it
does with metric time series. Every method sees the same simulated streams. Reports, per
scenario, the share of runs rolled back and the canary requests needed (median, p90; runs never
rolled back count as infinitely many), and the A/A false-rollback rate.

Run: .venv/bin/python bench/detection.py [--quick] [--jobs N]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

from turnout.analysis import CanaryAnalysis, Outcome, Thresholds
from turnout.analysis.baselines import KayentaClass, flagger_check, kayenta_judge
from turnout.analysis.ranks import moses_rank

KAYENTA_CONFIDENCE = 0.98
KAYENTA_MIN = 50
ERROR_BUCKET = 50
FLAGGER_EVERY = 100
FLAGGER_THRESHOLD = 5


@dataclass(frozen=True)
class Scenario:
    name: str
    shift_ms: float
    base_errors: float
    canary_errors: float
    runs: int
    max_requests: int


@dataclass(frozen=True)
class Stream:
    lat_b: list[float]
    err_b: list[bool]
    lat_c: list[float]
    err_c: list[bool]


def latency(rng: random.Random, shift: float) -> float:
    if rng.random() < 0.02:
        return rng.lognormvariate(math.log(250.0), 0.6) + shift
    return rng.lognormvariate(math.log(50.0), 0.4) + shift


def make_stream(sc: Scenario, seed: int) -> Stream:
    rng = random.Random(seed)
    n = sc.max_requests
    return Stream(
        [latency(rng, 0.0) for _ in range(n)],
        [rng.random() < sc.base_errors for _ in range(n)],
        [latency(rng, sc.shift_ms) for _ in range(n)],
        [rng.random() < sc.canary_errors for _ in range(n)],
    )


def bucket_rates(errors: list[bool], n: int) -> list[float]:
    return [
        sum(errors[i : i + ERROR_BUCKET]) / ERROR_BUCKET
        for i in range(0, n - ERROR_BUCKET + 1, ERROR_BUCKET)
    ]


# Each method returns the canary request count at rollback, or None.


def run_turnout(s: Stream) -> int | None:
    a = CanaryAnalysis(Thresholds())
    for i in range(len(s.lat_b)):
        a.observe("baseline", s.lat_b[i], s.err_b[i])
        a.observe("canary", s.lat_c[i], s.err_c[i])
        if a.outcome() is Outcome.FAIL:
            return i + 1
    return None


def kayenta_high(s: Stream, n: int) -> bool:
    lat = kayenta_judge(s.lat_b[:n], s.lat_c[:n], KAYENTA_CONFIDENCE)
    if lat.classification is KayentaClass.HIGH:
        return True
    err = kayenta_judge(bucket_rates(s.err_b, n), bucket_rates(s.err_c, n), KAYENTA_CONFIDENCE)
    return err.classification is KayentaClass.HIGH


def run_kayenta_fixed(s: Stream, n: int) -> int | None:
    n = min(n, len(s.lat_b))
    return n if kayenta_high(s, n) else None


def run_kayenta_peeking(s: Stream) -> int | None:
    # Incremental Mann-Whitney count decides cheaply whether the CI's lower end is above 0 (a
    # necessary condition for High); only then is the full judge run.
    sorted_b: list[float] = []
    sorted_c: list[float] = []
    greater = 0  # pairs with canary > baseline
    for i in range(len(s.lat_b)):
        x, y = s.lat_b[i], s.lat_c[i]
        greater += len(sorted_c) - bisect_right(sorted_c, x)
        insort(sorted_b, x)
        greater += bisect_left(sorted_b, y)
        insort(sorted_c, y)
        n = i + 1
        if n < KAYENTA_MIN:
            continue
        k = moses_rank(n, n, KAYENTA_CONFIDENCE)
        if k >= 1 and n * n - greater < k:
            lat = kayenta_judge(sorted_b, sorted_c, KAYENTA_CONFIDENCE, precision=1e-6)
            if lat.classification is KayentaClass.HIGH:
                return n
        if n % ERROR_BUCKET == 0 and n // ERROR_BUCKET >= 5:
            err = kayenta_judge(
                bucket_rates(s.err_b, n), bucket_rates(s.err_c, n), KAYENTA_CONFIDENCE
            )
            if err.classification is KayentaClass.HIGH:
                return n
    return None


def run_mann_whitney_peeking(s: Stream) -> int | None:
    """Plain Mann-Whitney on latency (two-sided p < 0.02, canary higher), after every request."""
    sorted_b: list[float] = []
    sorted_c: list[float] = []
    greater = 0
    z_crit = NormalDist().inv_cdf(1 - (1 - KAYENTA_CONFIDENCE) / 2)
    for i in range(len(s.lat_b)):
        x, y = s.lat_b[i], s.lat_c[i]
        greater += len(sorted_c) - bisect_right(sorted_c, x)
        insort(sorted_b, x)
        greater += bisect_left(sorted_b, y)
        insort(sorted_c, y)
        n = i + 1
        if n < KAYENTA_MIN:
            continue
        z = (greater - n * n / 2 - 0.5) / math.sqrt(n * n * (2 * n + 1) / 12)
        if z > z_crit:
            return n
    return None


def run_flagger(s: Stream) -> int | None:
    failed = 0
    for end in range(FLAGGER_EVERY, len(s.lat_c) + 1, FLAGGER_EVERY):
        start = end - FLAGGER_EVERY
        if not flagger_check(s.lat_c[start:end], s.err_c[start:end]).passed:
            failed += 1
            if failed >= FLAGGER_THRESHOLD:
                return end
    return None


METHODS = (
    "turnout (every request)",
    "Kayenta fixed n",
    "Kayenta peeking",
    "Mann-Whitney peeking",
    "Flagger",
)


def run_one(args: tuple[Scenario, int, int]) -> tuple[int | None, ...]:
    sc, seed, fixed_n = args
    s = make_stream(sc, seed)
    return (
        run_turnout(s),
        run_kayenta_fixed(s, fixed_n),
        run_kayenta_peeking(s),
        run_mann_whitney_peeking(s),
        run_flagger(s),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q)) - 1]


def fmt_n(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.0f}"


def binomial_upper(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound for a rate (by bisection on the binomial cdf)."""
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if cdf(mid) > 1 - conf:
            lo = mid
        else:
            hi = mid
    return hi


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter runs (< 30 s)")
    ap.add_argument("--jobs", type=int, default=2)
    opts = ap.parse_args(argv)
    if opts.quick:
        aa_runs, det_runs, n_max, n_err, fixed_n = 100, 30, 500, 2000, 500
    else:
        aa_runs, det_runs, n_max, n_err, fixed_n = 1000, 200, 2000, 5000, 500
    scenarios = [
        Scenario("latency +200 ms", 200.0, 0.01, 0.01, det_runs, n_max),
        Scenario("latency +20 ms", 20.0, 0.01, 0.01, det_runs, n_max),
        Scenario("errors 1% -> 3%", 0.0, 0.01, 0.03, det_runs, n_err),
        Scenario("A/A (no change)", 0.0, 0.01, 0.01, aa_runs, n_max),
    ]
    started = time.monotonic()
    results: dict[str, list[tuple[int | None, ...]]] = {}
    with ProcessPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for si, sc in enumerate(scenarios):
            jobs = [(sc, 1_000_003 * si + seed, fixed_n) for seed in range(sc.runs)]
            results[sc.name] = list(pool.map(run_one, jobs, chunksize=4))
    elapsed = time.monotonic() - started

    out: Callable[[str], None] = print
    out(f"# detection benchmark ({'quick' if opts.quick else 'full'}; {elapsed:.0f} s)")
    out(
        f"traffic: lognormal latency, median 50 ms (2% tail ~250 ms), equal traffic per arm; "
        f"Kayenta fixed n = {fixed_n} per arm; canary requests counted"
    )
    out("")
    out("| scenario | method | runs | rolled back | median requests | p90 requests |")
    out("| --- | --- | ---: | ---: | ---: | ---: |")
    medians: dict[tuple[str, str], float] = {}
    for sc in scenarios:
        rows = results[sc.name]
        for mi, method in enumerate(METHODS):
            hits = [r[mi] for r in rows]
            needed = [math.inf if h is None else float(h) for h in hits]
            rate = sum(h is not None for h in hits) / len(hits)
            med, p90 = percentile(needed, 0.5), percentile(needed, 0.9)
            medians[(sc.name, method)] = med
            out(
                f"| {sc.name} (max {sc.max_requests}) | {method} | {len(hits)} | {rate:.1%} "
                f"| {fmt_n(med)} | {fmt_n(p90)} |"
            )
    out("")
    aa = results["A/A (no change)"]
    out("false rollbacks in A/A (95% upper bound, Clopper-Pearson):")
    for mi, method in enumerate(METHODS):
        k = sum(r[mi] is not None for r in aa)
        out(f"  {method}: {k}/{len(aa)} = {k / len(aa):.1%} (<= {binomial_upper(k, len(aa)):.1%})")
    out("")
    out("ratio of median canary requests, turnout / Kayenta fixed horizon:")
    for sc in scenarios[:-1]:
        t = medians[(sc.name, METHODS[0])]
        f = medians[(sc.name, METHODS[1])]
        ratio = "n/a" if math.isinf(t) or math.isinf(f) else f"{t / f:.2f}"
        out(f"  {sc.name}: {fmt_n(t)} / {fmt_n(f)} = {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
