"""Sequential canary analysis: compare canary with baseline after every request, both ways.

Why this exists: rollouts read their analysis continuously, so every decision must hold at any
stopping time, and a canary must be *shown* good before it is promoted, not merely "not shown
bad" (thin traffic must neither roll back nor promote). Requests are grouped into blocks (see
`blocks`) and two e-processes run on them (see `eprocess`):

* error rate: the odds ratio of canary to baseline errors, from where errors fall in each block;
* latency: how often a canary request is slower than the limit applied to a baseline request.

Each metric is Failed when its e-process against "within the limit" reaches m / alpha (m metrics:
a false rollback has probability <= alpha over all of them), and *shown within* when the mirror
e-process against "beyond the limit" reaches 1 / alpha (promotion needs every metric, an
intersection-union test, so each may use all of alpha: a canary beyond a limit is promoted with
probability <= alpha). Otherwise the verdict is Inconclusive: keep measuring. With
``promote_on="budget"`` a canary is instead promoted once each arm has the requests computed
(see `budget`) to catch a canary ``budget_effect`` times beyond the limits with ``budget_power``.

Limits: latency is beyond its limit when canary requests are slower than max(baseline x (1 +
``max_latency_increase``), baseline + ``min_latency_increase_ms``) more often than not; the error
rate when the canary's exceeds baseline + ``max_error_rate_increase`` x (the baseline's success
rate), tested exactly by adding that share of virtual errors to baseline requests (seeded, so the
same requests give the same verdict). Optional ``latency_quantiles`` add per-quantile metrics
(`quantiles`). Samples that are not finite and >= 0 are refused and counted, never binned.

Pure: no I/O.
"""

from __future__ import annotations

import math
import random
from typing import Literal

from turnout.analysis import budget as budget_mod
from turnout.analysis.blocks import Block, Blocker, Sample
from turnout.analysis.eprocess import OddsRatioTest, RankTest, pair_statistic
from turnout.analysis.fmt import fmt_interval, fmt_ms, fmt_pct, fmt_points
from turnout.analysis.histogram import Histogram
from turnout.analysis.quantiles import QuantileJudge
from turnout.analysis.verdict import MetricVerdict, Outcome, Thresholds, Verdict, quantile_name

Arm = Literal["baseline", "canary"]
UNBOUNDED = "not yet bounded"
"""A confidence sequence with no finite end, in a reason (never "-∞ to ∞")."""
_AUGMENT_SEED = 0x7E57


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
        self.rollback_alpha = th.alpha / th.metric_count
        self._arms: dict[str, _ArmState] = {"baseline": _ArmState(), "canary": _ArmState()}
        self._blocker = Blocker()
        self._errors = OddsRatioTest()
        self._ranks = RankTest()
        self._augment = random.Random(_AUGMENT_SEED)
        self._quantiles = [QuantileJudge(q, self.rollback_alpha / 2, th.tuning_samples)
                           for q in th.latency_quantiles]
        self._p50 = QuantileJudge(0.5, th.alpha / 2, th.tuning_samples)  # for display only
        self.refused = 0
        self._budget_cache: tuple[int, int | None] = (0, None)

    # -- input ------------------------------------------------------------------------------

    def observe(self, arm: Arm, latency_ms: float, error: bool) -> bool:
        """Add one request; False (and counted in ``refused``) for a latency that is not a
        finite number >= 0."""
        state = self._arms.get(arm)
        if state is None:
            raise ValueError(f"arm must be 'baseline' or 'canary', got {arm!r}")
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float) or \
                not math.isfinite(latency_ms) or latency_ms < 0:
            self.refused += 1
            return False
        state.hist.add(latency_ms)
        state.errors += bool(error)
        canary = arm == "canary"
        # a virtual baseline error with probability = the error limit, drawn for every baseline
        # request whatever its values, so that the test's null is exactly the limit
        virtual = not canary and self._augment.random() < self.thresholds.max_error_rate_increase
        block = self._blocker.add(canary, Sample(float(latency_ms), bool(error) or virtual))
        if block is not None:
            self._add_block(block)
        return True

    def _limit(self, baseline_ms: float) -> float:
        th = self.thresholds
        return max(baseline_ms * (1 + th.max_latency_increase),
                   baseline_ms + th.min_latency_increase_ms)

    def _add_block(self, block: Block) -> None:
        x = sum(s.error for s in block.canary)
        s = x + sum(s.error for s in block.baseline)
        self._errors.add(len(block.canary), len(block.baseline), x, s)
        self._ranks.add(pair_statistic([c.latency_ms for c in block.canary],
                                       [self._limit(b.latency_ms) for b in block.baseline]))

    @property
    def counts(self) -> tuple[int, int]:
        """(baseline requests, canary requests) observed so far."""
        return self._arms["baseline"].n, self._arms["canary"].n

    # -- decisions --------------------------------------------------------------------------

    def _thin(self) -> bool:
        return min(self.counts) < self.thresholds.min_samples

    def _cut(self, alpha: float) -> float:
        return math.log(1.0 / alpha)

    def _errors_fail(self) -> bool:
        return self._errors.log_evalue(0.0, True) >= self._cut(self.rollback_alpha)

    def _errors_within(self) -> bool:
        return self._errors.log_evalue(0.0, False) >= self._cut(self.thresholds.alpha)

    def _latency_fail(self) -> bool:
        return self._ranks.log_evalue(True) >= self._cut(self.rollback_alpha)

    def _latency_within(self) -> bool:
        return self._ranks.log_evalue(False) >= self._cut(self.thresholds.alpha)

    def _quantile_fail(self, j: QuantileJudge) -> bool:
        return j.fails(self._arms["baseline"].hist, self._arms["canary"].hist, self._limit)

    def _quantile_within(self, j: QuantileJudge) -> bool:
        return j.within(self._arms["baseline"].hist, self._arms["canary"].hist, self._limit)

    def budget(self) -> int | None:
        """Requests per arm after which ``promote_on="budget"`` promotes (None: cannot be
        computed yet, e.g. no baseline traffic)."""
        th = self.thresholds
        b = self._arms["baseline"]
        if b.n < th.min_samples:
            return None
        if self._budget_cache[0] and b.n < self._budget_cache[0] * 1.1:
            return self._budget_cache[1]  # recomputed as the baseline grows by 10 %
        need = budget_mod.requests_per_arm(
            baseline_latencies=b.hist, baseline_errors=b.errors, baseline_n=b.n,
            shape=self._blocker.shape(), thresholds=th, alpha=self.rollback_alpha)
        self._budget_cache = (b.n, need)
        return need

    def _budget_met(self) -> bool:
        need = self.budget()
        return need is not None and min(self.counts) >= need

    def outcome(self) -> Outcome:
        """The verdict's outcome alone, without building reasons (for tight loops)."""
        if self._thin():
            return Outcome.INCONCLUSIVE
        if self._errors_fail() or self._latency_fail() or \
                any(self._quantile_fail(j) for j in self._quantiles):
            return Outcome.FAIL
        if self._errors_within() and self._latency_within() and \
                all(self._quantile_within(j) for j in self._quantiles):
            return Outcome.PASS
        if self.thresholds.promote_on == "budget" and self._budget_met():
            return Outcome.PASS
        return Outcome.INCONCLUSIVE

    # -- full verdict with numbers and reasons ----------------------------------------------

    def verdict(self) -> Verdict:
        th = self.thresholds
        n_b, n_c = self.counts
        metrics = [self._latency_verdict(), self._error_verdict()]
        metrics += [self._quantile_verdict(j) for j in self._quantiles]
        failed = [m for m in metrics if m.outcome is Outcome.FAIL]
        open_ = [m for m in metrics if not m.settled]
        counts = f"{n_b} baseline, {n_c} canary requests"
        refused = f"; {self.refused} samples refused (not a finite latency >= 0)" \
            if self.refused else ""
        decided_by = ""
        if n_b == 0 and n_c == 0:
            outcome, reason = Outcome.INCONCLUSIVE, "no traffic yet on baseline or canary"
        elif self._thin():
            outcome = Outcome.INCONCLUSIVE
            reason = (f"too little traffic to judge: {n_b} baseline and {n_c} canary requests, "
                      f"need at least {th.min_samples} each")
        elif failed:
            outcome, decided_by = Outcome.FAIL, "evidence"
            reason = "; ".join(m.reason for m in failed)
        elif not open_:
            outcome, decided_by = Outcome.PASS, "evidence"
            reason = f"canary is shown within every limit ({counts})"
        elif th.promote_on == "budget" and self._budget_met():
            outcome, decided_by = Outcome.PASS, "budget"
            reason = (f"canary reached the budget of {self.budget()} requests per arm, sized to "
                      f"catch a canary {th.budget_effect:g}x beyond the limits with "
                      f"{th.budget_power:.0%} power, and was not shown worse ({counts}); not "
                      "shown within: " + ", ".join(m.metric for m in open_))
        else:
            outcome = Outcome.INCONCLUSIVE
            reason = ("no metric is shown worse, not yet shown within: "
                      + ", ".join(m.metric for m in open_) + f" ({counts})")
            if th.promote_on == "budget":
                need = self.budget()
                reason += f"; budget {need} requests per arm" if need else ""
        return Verdict(outcome=outcome, metrics=tuple(metrics), reason=reason + refused,
                       alpha=th.alpha, decided_by=decided_by, refused=self.refused)

    def _outcome_of(self, fails: bool, within: bool) -> tuple[Outcome, bool]:
        if self._thin():
            return Outcome.INCONCLUSIVE, False
        if fails:
            return Outcome.FAIL, True
        if within:
            return Outcome.PASS, True
        return Outcome.INCONCLUSIVE, False

    def _latency_verdict(self) -> MetricVerdict:
        th = self.thresholds
        b, c = self._arms["baseline"], self._arms["canary"]
        limit_text = f"{th.max_latency_increase * 100:g}%"
        if th.min_latency_increase_ms:
            limit_text += f" (at least {fmt_ms(th.min_latency_increase_ms)} ms)"
        if min(b.n, c.n) == 0:
            return MetricVerdict(
                "latency", Outcome.INCONCLUSIVE, None, None, None, (-math.inf, math.inf),
                th.max_latency_increase, b.n, c.n,
                f"no {'baseline' if b.n == 0 else 'canary'} traffic yet")
        est_b, est_c = self._p50.estimate(b.hist), self._p50.estimate(c.hist)
        b_lo, b_hi = self._p50.bounds(b.hist)
        c_lo, c_hi = self._p50.bounds(c.hist)
        share = self._ranks.mean
        s_lo, s_hi = self._ranks.interval(th.alpha)
        fails, within = self._latency_fail(), self._latency_within()
        outcome, settled = self._outcome_of(fails, within)
        # the p50s are for reading; the verdict is the share of comparisons (the p50s' own
        # confidence sequences, in `interval`, narrow more slowly and are not printed here)
        summary = (
            f"canary p50 {fmt_ms(est_c)} ms vs {fmt_ms(est_b)} ms; "
            f"slower than baseline + {limit_text} in {share:.0%} of comparisons "
            f"({(1 - th.alpha) * 100:g}% CS {s_lo:.0%} to {s_hi:.0%}, 50% is the limit)")
        if self._thin():
            reason = f"{summary}; too little traffic to judge (need {th.min_samples} per arm)"
        elif fails:
            reason = f"latency: {summary}: beyond the limit"
        elif within:
            reason = f"latency: {summary}: shown within the limit"
        else:
            reason = f"latency: {summary}: not yet shown within or beyond the limit"
        return MetricVerdict(
            metric="latency", outcome=outcome, baseline=est_b, canary=est_c,
            difference=est_c - est_b, interval=(c_lo - b_hi, c_hi - b_lo),
            threshold=self._limit(est_b) - est_b, n_baseline=b.n, n_canary=c.n,
            reason=reason, unit="ms", settled=settled,
            evidence={**self._evidence(self._ranks.log_evalue(True),
                                       self._ranks.log_evalue(False)),
                      "share": share, "shareLow": s_lo, "shareHigh": s_hi, "shareLimit": 0.5})

    def _evidence(self, worse: float, within: float) -> dict[str, float]:
        """The e-values and the levels they must reach (for people and the dashboard)."""
        cap = 1e12
        return {"worse": min(math.exp(min(worse, 60.0)), cap),
                "worseNeeded": 1.0 / self.rollback_alpha,
                "within": min(math.exp(min(within, 60.0)), cap),
                "withinNeeded": 1.0 / self.thresholds.alpha}

    def _error_verdict(self) -> MetricVerdict:
        th = self.thresholds
        b, c = self._arms["baseline"], self._arms["canary"]
        limit = th.max_error_rate_increase
        limit_text = f"{fmt_points(limit)}-point limit"
        if min(b.n, c.n) == 0:
            return MetricVerdict(
                "error_rate", Outcome.INCONCLUSIVE, None, None, None, (-1.0, 1.0), limit,
                b.n, c.n, f"no {'baseline' if b.n == 0 else 'canary'} traffic yet",
                unit="ratio")
        rate_b, rate_c = b.errors / b.n, c.errors / c.n
        diff = rate_c - rate_b
        interval = self._error_interval(rate_b)
        direction = "higher" if diff >= 0 else "lower"
        fails, within = self._errors_fail(), self._errors_within()
        outcome, settled = self._outcome_of(fails, within)
        summary = (
            f"canary error rate is {fmt_points(abs(diff))} points {direction} than baseline "
            f"({fmt_pct(rate_c)} vs {fmt_pct(rate_b)}, {(1 - th.alpha) * 100:g}% CS "
            f"{fmt_interval(*interval, fmt_points, 'points', unbounded=UNBOUNDED)})")
        if self._thin():
            reason = f"{summary}; too little traffic to judge (need {th.min_samples} per arm)"
        elif fails:
            reason = f"{summary}, above the {limit_text}"
        elif within:
            reason = f"{summary}, shown within the {limit_text}"
        else:
            reason = f"{summary}; not yet shown within or above the {limit_text}"
        return MetricVerdict(
            metric="error_rate", outcome=outcome, baseline=rate_b, canary=rate_c,
            difference=diff, interval=interval, threshold=limit * (1 - rate_b),
            n_baseline=b.n, n_canary=c.n, reason=reason, unit="ratio", settled=settled,
            evidence=self._evidence(self._errors.log_evalue(0.0, True),
                                    self._errors.log_evalue(0.0, False)))

    def _error_interval(self, rate_b: float) -> tuple[float, float]:
        """The rate difference the odds ratio's confidence sequence implies at the baseline's
        observed rate (with its virtual errors): for reading, the verdict uses the odds."""
        delta = self.thresholds.max_error_rate_increase
        p = min(max(rate_b + delta * (1 - rate_b), 1e-9), 1 - 1e-9)
        odds = p / (1 - p)
        lo, hi = self._errors.interval(self.thresholds.alpha)

        def rate(log_psi: float) -> float:
            if log_psi == math.inf:
                return 1.0
            if log_psi == -math.inf:
                return 0.0
            o = odds * math.exp(log_psi)
            return o / (1 + o)
        return rate(lo) - rate_b, rate(hi) - rate_b

    def _quantile_verdict(self, j: QuantileJudge) -> MetricVerdict:
        name = quantile_name(j.q)
        b, c = self._arms["baseline"], self._arms["canary"]
        if min(b.n, c.n) == 0:
            return MetricVerdict(
                f"latency_{name}", Outcome.INCONCLUSIVE, None, None, None,
                (-math.inf, math.inf), math.inf, b.n, c.n,
                f"no {'baseline' if b.n == 0 else 'canary'} traffic yet")
        est_b, est_c = j.estimate(b.hist), j.estimate(c.hist)
        b_lo, b_hi = j.bounds(b.hist)
        c_lo, c_hi = j.bounds(c.hist)
        fails, within = self._quantile_fail(j), self._quantile_within(j)
        outcome, settled = self._outcome_of(fails, within)
        threshold = self._limit(est_b) - est_b
        summary = (
            f"canary {name} {fmt_ms(est_c)} ms vs {fmt_ms(est_b)} ms (limit +"
            f"{fmt_ms(threshold)} ms; "
            f"{fmt_interval(c_lo - b_hi, c_hi - b_lo, fmt_ms, 'ms', unbounded=UNBOUNDED)})")
        if math.isinf(b_hi) and not fails:
            tail = f"; the baseline {name} cannot be bounded yet with {b.n} requests"
        elif fails:
            tail = ", beyond the limit"
        elif within:
            tail = ", shown within the limit"
        else:
            tail = "; not yet shown within or beyond the limit"
        return MetricVerdict(
            metric=f"latency_{name}", outcome=outcome, baseline=est_b, canary=est_c,
            difference=est_c - est_b, interval=(c_lo - b_hi, c_hi - b_lo),
            threshold=threshold, n_baseline=b.n, n_canary=c.n, reason=summary + tail,
            unit="ms", settled=settled)
