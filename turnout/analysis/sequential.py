"""Sequential canary analysis: compare canary with baseline after every request.

Why this exists: rollouts check their analysis continuously, and a fixed-sample test checked
after every request raises false alarms most of the time. Here each arm keeps, per latency
quantile, an anytime-valid confidence sequence (Howard & Ramdas; compared across arms as in
Lindon et al., KDD 2022) and one for its error rate; the canary fails a metric only when the
confidence sequence of (canary - baseline) lies wholly above that metric's limit. The error
budget ``alpha`` is split evenly over metrics and arms, so the probability of ever failing a
canary that is within all limits stays below ``alpha`` however often ``verdict()`` is called.
Thin traffic is never a failure: below ``min_samples`` per arm the verdict is Inconclusive.

Each observation costs O(log B) (a Fenwick-tree histogram per arm), each verdict O(log B) per
metric plus a one-off O(log t) boundary computation per sample size, shared by all analyses.

Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Literal

from turnout.analysis import confseq
from turnout.analysis.fmt import fmt_interval, fmt_ms, fmt_pct, fmt_points
from turnout.analysis.histogram import Histogram
from turnout.analysis.paired import PairedDifference
from turnout.analysis.verdict import MetricVerdict, Outcome, Thresholds, Verdict, quantile_name

Arm = Literal["baseline", "canary"]
UNBOUNDED = "not yet bounded"
"""A confidence sequence with no finite end, in a reason (never "-∞ to ∞")."""


class _ArmState:
    __slots__ = ("errors", "hist")

    def __init__(self) -> None:
        self.hist = Histogram()
        self.errors = 0

    @property
    def n(self) -> int:
        return self.hist.count


class CanaryAnalysis:
    """Incremental canary-versus-baseline analysis; ``verdict()`` may follow every ``observe``."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = th = thresholds or Thresholds()
        # Each metric gets alpha / m; within a metric each arm's sequence gets half of that.
        self.arm_alpha = th.alpha / th.metric_count / 2
        concentration = max(1.0, th.tuning_samples / (2 * math.log(1 / self.arm_alpha)))
        self._boundaries = [
            confseq.quantile_boundary(q, self.arm_alpha, concentration)
            for q in th.latency_quantiles
        ]
        self._arms: dict[str, _ArmState] = {"baseline": _ArmState(), "canary": _ArmState()}
        # The error metric's share is split between two valid sequences whose intersection is
        # reported: per-arm rate sequences (tight when errors are extreme, e.g. 20 of 20) and a
        # paired-difference sequence (variance-adaptive: fast for 1 % -> 3 %).
        self._error_diff = PairedDifference(th.alpha / th.metric_count / 2)
        self._rate_alpha = th.alpha / th.metric_count / 4

    def observe(self, arm: Arm, latency_ms: float, error: bool) -> None:
        state = self._arms.get(arm)
        if state is None:
            raise ValueError(f"arm must be 'baseline' or 'canary', got {arm!r}")
        state.hist.add(latency_ms)
        if error:
            state.errors += 1
        self._error_diff.observe(arm, error)

    @property
    def counts(self) -> tuple[int, int]:
        """(baseline requests, canary requests) observed so far."""
        return self._arms["baseline"].n, self._arms["canary"].n

    # -- the decision rule, shared by outcome() and verdict() ---------------------------------

    def _latency_limit(self, baseline_ms: float) -> float:
        th = self.thresholds
        return max(th.max_latency_increase * baseline_ms, th.min_latency_increase_ms)

    def _latency_bounds(self, arm: _ArmState, i: int) -> tuple[float, float]:
        lo_rank, hi_rank = confseq.order_statistic_ranks(self._boundaries[i], arm.n)
        return arm.hist.lower_bound(lo_rank), arm.hist.upper_bound(hi_rank)

    def _latency_fails(self, i: int) -> bool:
        b, c = self._arms["baseline"], self._arms["canary"]
        lo_rank = confseq.order_statistic_ranks(self._boundaries[i], c.n)[0]
        hi_rank = confseq.order_statistic_ranks(self._boundaries[i], b.n)[1]
        if lo_rank < 1 or hi_rank > b.n:
            return False
        canary_low = c.hist.lower_bound(lo_rank)
        baseline_high = b.hist.upper_bound(hi_rank)
        # Q_c <= Q_b + limit(Q_b) is refuted when even the lowest plausible canary quantile
        # exceeds the highest plausible baseline quantile plus its limit (limit grows with Q_b).
        return canary_low - baseline_high > self._latency_limit(baseline_high)

    def _error_interval(self) -> tuple[float, float]:
        b, c = self._arms["baseline"], self._arms["canary"]
        b_lo, b_hi = confseq.rate_interval(b.errors, b.n, self._rate_alpha)
        c_lo, c_hi = confseq.rate_interval(c.errors, c.n, self._rate_alpha)
        p_lo, p_hi = self._error_diff.interval()
        return max(c_lo - b_hi, p_lo), min(c_hi - b_lo, p_hi)

    def _errors_fail(self) -> bool:
        b, c = self._arms["baseline"], self._arms["canary"]
        limit = self.thresholds.max_error_rate_increase
        if min(b.n, c.n) == 0 or c.errors / c.n - b.errors / b.n <= limit:
            return False  # cheap necessary condition
        return self._error_interval()[0] > limit

    def _thin(self) -> bool:
        n_b, n_c = self.counts
        return min(n_b, n_c) < self.thresholds.min_samples

    def outcome(self) -> Outcome:
        """The verdict's outcome alone, without building reasons (for tight loops)."""
        if self._thin():
            return Outcome.INCONCLUSIVE
        if self._errors_fail() or any(
            self._latency_fails(i) for i in range(len(self._boundaries))
        ):
            return Outcome.FAIL
        if self.thresholds.require_all_metrics:
            return self.verdict().outcome
        return Outcome.PASS

    # -- full verdict with numbers and reasons ------------------------------------------------

    def verdict(self) -> Verdict:
        th = self.thresholds
        n_b, n_c = self.counts
        level = f"{(1 - th.alpha) * 100:g}% CS"
        metrics = [self._latency_verdict(i, level) for i in range(len(self._boundaries))]
        metrics.append(self._error_verdict(level))
        failed = [m for m in metrics if m.outcome is Outcome.FAIL]
        open_ = [m for m in metrics if m.outcome is Outcome.INCONCLUSIVE]
        if n_b == 0 and n_c == 0:
            outcome, reason = Outcome.INCONCLUSIVE, "no traffic yet on baseline or canary"
        elif self._thin():
            outcome = Outcome.INCONCLUSIVE
            reason = (
                f"too little traffic to judge: {n_b} baseline and {n_c} canary requests, "
                f"need at least {th.min_samples} each"
            )
        elif failed:
            outcome, reason = Outcome.FAIL, "; ".join(m.reason for m in failed)
        elif open_ and th.require_all_metrics:
            names = ", ".join(m.metric for m in open_)
            outcome = Outcome.INCONCLUSIVE
            reason = f"{names} cannot be judged yet ({n_b} baseline, {n_c} canary requests)"
        else:
            outcome = Outcome.PASS
            if all(m.settled for m in metrics):
                reason = "canary is within every limit"
            else:
                reason = "no metric of the canary is significantly worse than its limit"
            reason += f" ({n_b} baseline, {n_c} canary requests)"
            if open_:
                reason += "; not judged yet: " + ", ".join(m.metric for m in open_)
        return Verdict(outcome=outcome, metrics=tuple(metrics), reason=reason, alpha=th.alpha)

    def _latency_verdict(self, i: int, level: str) -> MetricVerdict:
        th = self.thresholds
        q = th.latency_quantiles[i]
        name = quantile_name(q)
        metric = f"latency_{name}"
        b, c = self._arms["baseline"], self._arms["canary"]
        limit_text = f"{th.max_latency_increase * 100:g}% limit"
        if min(b.n, c.n) == 0:
            return MetricVerdict(
                metric, Outcome.INCONCLUSIVE, None, None, None, (-math.inf, math.inf),
                math.inf, b.n, c.n, f"no {'baseline' if b.n == 0 else 'canary'} traffic yet",
            )
        est_b = b.hist.value(math.ceil(b.n * q))
        est_c = c.hist.value(math.ceil(c.n * q))
        diff = est_c - est_b
        b_lo, b_hi = self._latency_bounds(b, i)
        c_lo, c_hi = self._latency_bounds(c, i)
        interval = (c_lo - b_hi, c_hi - b_lo)
        threshold = self._latency_limit(est_b)
        limit_text += f" ({fmt_ms(threshold)} ms)"
        direction = "slower" if diff >= 0 else "faster"
        summary = (
            f"canary {name} is {fmt_ms(abs(diff))} ms {direction} than baseline "
            f"({fmt_ms(est_c)} vs {fmt_ms(est_b)} ms, {level} "
            f"{fmt_interval(*interval, fmt_ms, 'ms', unbounded=UNBOUNDED)})"
        )
        fails = not self._thin() and self._latency_fails(i)
        within = c_hi - b_lo < self._latency_limit(b_lo)
        if self._thin():
            outcome, settled = Outcome.INCONCLUSIVE, False
            reason = f"{summary}; too little traffic to judge (need {th.min_samples} per arm)"
        elif fails:
            outcome, settled = Outcome.FAIL, True
            reason = f"{summary}, above the {limit_text}"
        elif math.isinf(b_hi):
            outcome, settled = Outcome.INCONCLUSIVE, False
            reason = (
                f"{summary}; the baseline {name} cannot be bounded yet with {b.n} requests, "
                f"so a regression cannot be shown"
            )
        elif within:
            outcome, settled = Outcome.PASS, True
            reason = f"{summary}, within the {limit_text}"
        else:
            outcome, settled = Outcome.PASS, False
            reason = f"{summary}; not significantly above the {limit_text}"
        return MetricVerdict(
            metric=metric, outcome=outcome, baseline=est_b, canary=est_c, difference=diff,
            interval=interval, threshold=threshold, n_baseline=b.n, n_canary=c.n,
            reason=reason, unit="ms", settled=settled,
        )

    def _error_verdict(self, level: str) -> MetricVerdict:
        th = self.thresholds
        b, c = self._arms["baseline"], self._arms["canary"]
        limit = th.max_error_rate_increase
        limit_text = f"{fmt_points(limit)}-point limit"
        if min(b.n, c.n) == 0:
            return MetricVerdict(
                "error_rate", Outcome.INCONCLUSIVE, None, None, None, (-1.0, 1.0), limit,
                b.n, c.n, f"no {'baseline' if b.n == 0 else 'canary'} traffic yet",
                unit="ratio",
            )
        rate_b, rate_c = b.errors / b.n, c.errors / c.n
        diff = rate_c - rate_b
        interval = self._error_interval()
        direction = "higher" if diff >= 0 else "lower"
        summary = (
            f"canary error rate is {fmt_points(abs(diff))} points {direction} than baseline "
            f"({fmt_pct(rate_c)} vs {fmt_pct(rate_b)}, {level} "
            f"{fmt_interval(*interval, fmt_points, 'points', unbounded=UNBOUNDED)})"
        )
        if self._thin():
            outcome, settled = Outcome.INCONCLUSIVE, False
            reason = f"{summary}; too little traffic to judge (need {th.min_samples} per arm)"
        elif self._errors_fail():
            outcome, settled = Outcome.FAIL, True
            reason = f"{summary}, above the {limit_text}"
        elif interval[1] < limit:
            outcome, settled = Outcome.PASS, True
            reason = f"{summary}, within the {limit_text}"
        else:
            outcome, settled = Outcome.PASS, False
            reason = f"{summary}; not significantly above the {limit_text}"
        return MetricVerdict(
            metric="error_rate", outcome=outcome, baseline=rate_b, canary=rate_c,
            difference=diff, interval=interval, threshold=limit, n_baseline=b.n, n_canary=c.n,
            reason=reason, unit="ratio", settled=settled,
        )
