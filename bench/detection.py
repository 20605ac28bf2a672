"""Detection power, false rollbacks and false promotions of turnout's sequential analysis.

Traffic is simulated request by request: a request goes to the canary with probability w (0.5,
or 0.1 where stated); latency is lognormal (median 50 ms, sigma_log 0.4) with a 2 % slow tail
(lognormal, median 250 ms, sigma_log 0.6); errors are Bernoulli (baseline 1 %). turnout's
`outcome()` is read after every request; a run stops at the first verdict that is not
Inconclusive or when the canary has 5000 requests (the horizon).

* Detection rows run turnout with zero margins (every limit 0, alpha 0.01): the issue's
  information bound ln(1/alpha)/KL is for H0 "no difference". Rows marked "limits" repeat them
  with the product defaults (`Thresholds()`), whose bound is taken against the null at the limit.
  Each row prints the bound in canary requests and the ratio of turnout's median to it, the
  canary requests a one-look test needs for 80 % and 90 % power (sized analytically, its power
  checked on the same streams), and an mSPRT run on the same streams (`_detection_runs`).
* Null rows: A/A and canaries exactly at the default limits, read after every request up to the
  horizon (continuing past any promotion): false failures, with a 95 % upper binomial bound.
* False-promotion rows: canaries at twice the default limits, evidence and budget modes.

Theory (bounds, KL, fixed-sample sizes) is in `_detection_model`.

Run: .venv/bin/python bench/detection.py [--quick] [--jobs N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from _detection_model import (
    BASE_ERRORS,
    Canary,
    binomial_upper,
    bound_canary_requests,
    error_kl_per_request,
    fixed_n_errors,
    fixed_n_latency,
    latency_kl_per_request,
    p_slower,
    pair_bound,
)
from _detection_runs import (
    fixed_errors_rejects,
    fixed_latency_rejects,
    make_stream,
    run_msprt,
    run_turnout,
    run_turnout_steps,
)

from turnout.analysis import Outcome, Thresholds

ALPHA = 0.01
HORIZON = 5000
ZERO = Thresholds(max_latency_increase=0.0, min_latency_increase_ms=0.0,
                  max_error_rate_increase=0.0, alpha=ALPHA)
LIMITS = Thresholds()
BUDGET = Thresholds(promote_on="budget")
THRESHOLDS = {"zero": ZERO, "limits": LIMITS, "budget": BUDGET}
AT_LIMIT_ERRORS = BASE_ERRORS + LIMITS.max_error_rate_increase * (1 - BASE_ERRORS)
TWICE_ERRORS = BASE_ERRORS + 2 * LIMITS.max_error_rate_increase * (1 - BASE_ERRORS)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    kind: str  # detect | null | promote | steps
    canary: Canary
    thresholds: str
    runs: int
    w: float = 0.5
    metric: str = ""  # the metric a detect row changes: errors | latency
    target: tuple[float, float] | None = None  # (detected % at least, median at most)
    quick: int = 0  # runs in --quick mode (0: runs // 40, at least 8)
    horizon: int = HORIZON  # canary requests


def _rows() -> list[Row]:
    e13, lat12 = Canary(errors=0.03), Canary(scale=1.2)
    p20, p200 = Canary(shift_ms=20.0), Canary(shift_ms=200.0)
    rows = []
    for th, tag in (("zero", ""), ("limits", ", limits")):
        t = th == "zero"
        rows += [
            Row(f"err-{th}", f"errors 1→3 %{tag}", "detect", e13, th, 200 if t else 150,
                metric="errors",
                target=(95, 1300) if t else None),
            Row(f"err10-{th}", f"errors 1→3 %, w 10 %{tag}", "detect", e13, th, 150, w=0.1,
                metric="errors", target=(95, 700) if t else None),
            Row(f"lat12-{th}", f"latency ×1.2{tag}", "detect", lat12, th, 200 if t else 150,
                metric="latency", target=(95, 1100) if t else None),
            Row(f"lat20-{th}", f"latency +20 ms{tag}", "detect", p20, th, 200 if t else 150,
                metric="latency", target=(100, 150) if t else None),
            Row(f"lat200-{th}", f"latency +200 ms{tag}", "detect", p200, th, 200 if t else 150,
                metric="latency", target=(100, 25) if t else None),
        ]
    rows += [
        Row("aa-zero", "A/A, zero margins", "null", Canary(), "zero", 1000, quick=25),
        Row("aa10-zero", "A/A, zero margins, w 10 %", "null", Canary(), "zero", 100, w=0.1,
            quick=4),
        Row("aa-limits", "A/A, limits", "null", Canary(), "limits", 200),
        Row("edge-limits", "×1.10 and errors at limit", "null",
            Canary(scale=1.1, errors=AT_LIMIT_ERRORS), "limits", 1000, quick=25),
        Row("fp-lat-ev", "latency ×1.2", "promote", lat12, "limits", 500),
        Row("fp-lat-bu", "latency ×1.2", "promote", lat12, "budget", 500),
        Row("fp-err-ev", "errors +1 point", "promote", Canary(errors=TWICE_ERRORS), "limits", 500),
        Row("fp-err-bu", "errors +1 point", "promote", Canary(errors=TWICE_ERRORS), "budget", 500),
        # the budget (about 43,000 requests per arm here) lies beyond the 5000 horizon
        Row("fp-err-bu-long", "errors +1 point, 60k", "promote", Canary(errors=TWICE_ERRORS),
            "budget", 500, quick=2, horizon=60000),
        Row("steps-ev", "+20 ms, steps of 20/arm", "steps", p20, "limits", 500),
        Row("steps-bu", "+20 ms, steps of 20/arm", "steps", p20, "budget", 500),
    ]
    return rows


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    at: int
    first_fail: int | None = None
    failed_metrics: tuple[str, ...] = ()
    msprt: int | None = None
    fixed: tuple[bool | None, ...] = ()


@dataclass(frozen=True)
class Theory:
    bound: float
    pair: float  # latency rows: the pair-statistic bound (math.inf otherwise)
    n80: int
    n90: int


def theory(row: Row) -> Theory:
    th = THRESHOLDS[row.thresholds]
    c = row.canary
    if row.metric == "errors":
        m = th.max_error_rate_increase
        kl = error_kl_per_request(BASE_ERRORS, c.errors, row.w, m)
        return Theory(bound_canary_requests(kl, row.w, ALPHA), math.inf,
                      fixed_n_errors(BASE_ERRORS, c.errors, row.w, ALPHA, 0.8, m),
                      fixed_n_errors(BASE_ERRORS, c.errors, row.w, ALPHA, 0.9, m))
    m = 1 + th.max_latency_increase
    kl = latency_kl_per_request(c, row.w, m)
    theta = p_slower(c, m)
    return Theory(bound_canary_requests(kl, row.w, ALPHA), pair_bound(theta, ALPHA),
                  fixed_n_latency(theta, row.w, ALPHA, 0.8),
                  fixed_n_latency(theta, row.w, ALPHA, 0.9))


def run_one(row: Row, i: int, fixed_ns: tuple[int, ...]) -> Result:
    seed = f"{row.key}:{i}"
    th = THRESHOLDS[row.thresholds]
    if row.kind == "steps":
        return Result(run_turnout_steps(row.canary, BASE_ERRORS, th, 20, row.horizon, seed), 0)
    s = make_stream(row.canary, BASE_ERRORS, row.w, row.horizon, seed)
    r = run_turnout(s, th, through=row.kind == "null")
    if row.kind == "promote":
        return Result(r.outcome, r.at)
    fixed: tuple[bool | None, ...] = ()
    if row.kind == "detect":
        test = fixed_errors_rejects if row.metric == "errors" else fixed_latency_rejects
        margin = th.max_error_rate_increase if row.metric == "errors" else \
            1 + th.max_latency_increase
        fixed = tuple(test(s, n, ALPHA, margin) for n in fixed_ns)
    return Result(r.outcome, r.at, r.first_fail, r.failed_metrics, run_msprt(s, th), fixed)


def run_batch(row: Row, start: int, count: int, fixed_ns: tuple[int, ...]) -> list[Result]:
    return [run_one(row, i, fixed_ns) for i in range(start, start + count)]


# -- summaries ----------------------------------------------------------------------------------


def quantile(xs: Sequence[float], q: float) -> float:
    """Lower empirical quantile; misses are math.inf."""
    ys = sorted(xs)
    return ys[min(len(ys) - 1, max(0, math.ceil(q * len(ys)) - 1))]


def judge(k: int, n: int, limit: float) -> str:
    """"yes" when k / n <= limit; "~" above it but not significantly (binomial test at 5 %:
    consistent with <= limit); "NO" when significantly above."""
    if k <= limit * n:
        return "yes"
    tail = sum(math.comb(n, i) * limit ** i * (1 - limit) ** (n - i) for i in range(k, n + 1))
    return "~" if tail > 0.05 else "NO"


def fmt_n(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.0f}"


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}" if n else "-"


def detect_tables(rows: list[Row], res: dict[str, list[Result]], th: dict[str, Theory]) -> bool:
    ok = True
    print(f"{'scenario (w 50 % or stated)':<28} {'det %':>6} {'median':>6} {'p90':>6} "
          f"{'bound':>6} {'ratio':>6}  target")
    for row in rows:
        rs, t = res[row.key], th[row.key]
        ns = [r.at if r.outcome is Outcome.FAIL else math.inf for r in rs]
        det = sum(r.outcome is Outcome.FAIL for r in rs)
        med = quantile(ns, 0.5)
        target = "-"
        if row.target:
            met = 100 * det / len(rs) >= row.target[0] and med <= row.target[1]
            ok &= met
            target = f"≥{row.target[0]:.0f}% ≤{row.target[1]:.0f} {'met' if met else 'MISSED'}"
        print(f"{row.label:<28} {pct(det, len(rs)):>6} {fmt_n(med):>6} "
              f"{fmt_n(quantile(ns, 0.9)):>6} {t.bound:>6.0f} {med / t.bound:>6.2f}  {target}")
    print("\nSame streams: one-look test sized for 80 % / 90 % power (power measured), mSPRT,")
    print("and the pair-statistic bound of turnout's latency test.")
    print(f"{'scenario':<28} {'n80':>5} {'pow':>4} {'n90':>5} {'pow':>4} {'mSPRT %':>7} "
          f"{'med':>5} {'pair':>5}")
    for row in rows:
        rs, t = res[row.key], th[row.key]
        pows = []
        for j in range(2):
            vals = [r.fixed[j] for r in rs if r.fixed[j] is not None]
            pows.append(f"{100 * sum(bool(v) for v in vals) / len(vals):.0f}" if vals else "-")
        ms = [math.inf if r.msprt is None else r.msprt for r in rs]
        det = sum(r.msprt is not None for r in rs)
        print(f"{row.label:<28} {t.n80:>5} {pows[0]:>4} {t.n90:>5} {pows[1]:>4} "
              f"{pct(det, len(rs)):>7} {fmt_n(quantile(ms, 0.5)):>5} {fmt_n(t.pair):>5}")
    return ok


def null_table(rows: list[Row], res: dict[str, list[Result]]) -> bool:
    ok = True
    print(f"{'scenario (read every request)':<31} {'runs':>5} {'fail':>4} {'%':>5} "
          f"{'95% up':>6} {'≤α':>3} {'mSPRT %':>7} {'PASS %':>6}")
    for row in rows:
        rs = res[row.key]
        fails = sum(r.first_fail is not None for r in rs)
        up = binomial_upper(fails, len(rs))
        verdict = judge(fails, len(rs), ALPHA)
        ok &= verdict != "NO"
        ms = sum(r.msprt is not None for r in rs)
        passed = sum(r.outcome is Outcome.PASS for r in rs)
        print(f"{row.label:<31} {len(rs):>5} {fails:>4} {pct(fails, len(rs)):>5} "
              f"{100 * up:>6.2f} {verdict:>3} {pct(ms, len(rs)):>7} "
              f"{pct(passed, len(rs)):>6}")
        by_metric: dict[str, int] = {}
        for r in rs:
            for m in r.failed_metrics:
                by_metric[m] = by_metric.get(m, 0) + 1
        if by_metric:
            print(f"{'':<4}failed metrics: " +
                  ", ".join(f"{m} {k}" for m, k in sorted(by_metric.items())))
    return ok


def promote_table(rows: list[Row], res: dict[str, list[Result]]) -> bool:
    ok = True
    print(f"{'scenario (2× the limits)':<25} {'mode':<8} {'runs':>5} {'PASS':>4} {'%':>5} "
          f"{'95% up':>6} {'≤5%':>3} {'FAIL %':>6} {'open %':>6}")
    for row in rows:
        rs = res[row.key]
        n = len(rs)
        passed = sum(r.outcome is Outcome.PASS for r in rs)
        failed = sum(r.outcome is Outcome.FAIL for r in rs)
        verdict = judge(passed, n, 0.05) if row.kind != "steps" else \
            ("yes" if passed == 0 else "NO")
        ok &= verdict != "NO"
        mode = THRESHOLDS[row.thresholds].promote_on
        print(f"{row.label:<25} {mode:<8} {n:>5} {passed:>4} {pct(passed, n):>5} "
              f"{100 * binomial_upper(passed, n):>6.2f} {verdict:>3} "
              f"{pct(failed, n):>6} {pct(n - passed - failed, n):>6}")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few runs per row (CI, make bench)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--only", default="", help="comma-separated row keys (debugging)")
    args = p.parse_args(argv)
    rows = _rows()
    if args.quick:
        rows = [replace(r, runs=r.quick or max(8, r.runs // 40)) for r in rows]
    if args.only:
        rows = [r for r in rows if r.key in args.only.split(",")]
    t0 = time.monotonic()
    th = {r.key: theory(r) for r in rows if r.kind == "detect"}
    res: dict[str, list[Result]] = {r.key: [] for r in rows}
    batch = 5
    # costliest runs first (w 10 %: ten times the requests; nulls run to the horizon)
    cost = {"null": 2, "promote": 1, "steps": 0, "detect": 0}
    order = sorted(rows, key=lambda r: (-cost[r.kind] * r.horizon / r.w, -r.runs))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = []
        for r in order:
            ns = (th[r.key].n80, th[r.key].n90) if r.key in th else ()
            for start in range(0, r.runs, batch):
                futures.append((r.key, pool.submit(run_batch, r, start,
                                                   min(batch, r.runs - start), ns)))
        for key, fut in futures:
            res[key] += fut.result()
    mode = "quick" if args.quick else "full"
    print(f"detection ({mode}): alpha {ALPHA}, horizon {HORIZON} canary requests, "
          f"{args.jobs} jobs, {time.monotonic() - t0:.0f} s\n")
    ok = True
    det = [r for r in rows if r.kind == "detect"]
    if det:
        print("Detection (rolled back = FAIL); canary requests; bound = ln(1/α)/KL_inf;")
        print("zero margins except rows marked 'limits' (product defaults, null at the limit)")
        ok &= detect_tables(det, res, th)
        print()
    nulls = [r for r in rows if r.kind == "null"]
    if nulls:
        print("False failures (rolled back) within the horizon; must be ≤ α = 1 %")
        ok &= null_table(nulls, res)
        print()
    promos = [r for r in rows if r.kind in ("promote", "steps")]
    if promos:
        print("False promotions (PASS) within the horizon, default limits; must be ≤ 5 %")
        print("(steps: outcome read after every 20 requests per arm, must be 0; 60k: horizon")
        print("60,000 canary requests, beyond the budget)")
        ok &= promote_table(promos, res)
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
