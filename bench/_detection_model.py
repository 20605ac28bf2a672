"""Traffic model and theory for `bench/detection.py`: the information bound and fixed-sample sizes.

Baseline latency is a mixture: 98 % lognormal (median 50 ms, sigma_log 0.4) and a 2 % slow tail
(lognormal, median 250 ms, sigma_log 0.6). A canary's latency is ``scale * X + shift_ms`` for a
baseline draw X; errors are Bernoulli. Everything here is computed numerically from these laws.

The information bound (Wald; see the sequential-statistics notes) for rejecting a composite null
H0 is ln(1/alpha) / KL_inf, KL_inf = the smallest KL divergence per observation from the true
two-sample law to a law of H0 (the baseline's law is a nuisance, so it is minimised over too).
Per request a request goes to the canary with probability w, so KL per request is
w KL(canary law || canary law under H0) + (1 - w) KL(baseline law || baseline law under H0), and
the bound in *canary* requests is w ln(1/alpha) / KL_inf.

* Errors: H0 is "canary rate <= baseline rate + margin x (1 - baseline rate)" (the margin is 0 for
  "no difference"); KL_inf is a one-dimensional convex minimisation over the baseline rate.
* Latency: H0 is "canary = baseline x m in law" (m = 1 for "no difference", m = 1.1 at the default
  10 % limit). Dividing canary latencies by m maps it onto "same law", where the closest null law
  is the w-mixture of the two, so KL_inf is the generalised Jensen-Shannon divergence
  JS_w(law of canary / m, law of baseline), integrated numerically. turnout's latency null ("the
  canary is slower than baseline x m in at most half of the pairs") contains this one, so this is
  a lower bound for it too, possibly not an attainable one.
* The pair bound: turnout's latency test sees, per block of one canary and one baseline request,
  only whether the canary is slower than the baseline's limit: KL(Bern(theta) || Bern(1/2)) per
  block with theta = P(canary > m x baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

BASE_MEDIAN_MS = 50.0
BASE_SIGMA = 0.4
TAIL_SHARE = 0.02
TAIL_MEDIAN_MS = 250.0
TAIL_SIGMA = 0.6
BASE_ERRORS = 0.01

_N = NormalDist()


@dataclass(frozen=True)
class Canary:
    """The canary's law: latency scale * X + shift_ms (X a baseline draw), error rate."""

    scale: float = 1.0
    shift_ms: float = 0.0
    errors: float = BASE_ERRORS


def _lognorm_pdf(x: float, median: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    z = (math.log(x) - math.log(median)) / sigma
    return math.exp(-0.5 * z * z) / (x * sigma * math.sqrt(2 * math.pi))


def _lognorm_cdf(x: float, median: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    return _N.cdf((math.log(x) - math.log(median)) / sigma)


def base_pdf(x: float) -> float:
    return (1 - TAIL_SHARE) * _lognorm_pdf(x, BASE_MEDIAN_MS, BASE_SIGMA) + \
        TAIL_SHARE * _lognorm_pdf(x, TAIL_MEDIAN_MS, TAIL_SIGMA)


def base_cdf(x: float) -> float:
    return (1 - TAIL_SHARE) * _lognorm_cdf(x, BASE_MEDIAN_MS, BASE_SIGMA) + \
        TAIL_SHARE * _lognorm_cdf(x, TAIL_MEDIAN_MS, TAIL_SIGMA)


def _pdf(x: float, scale: float, shift: float) -> float:
    """Density of scale * X + shift."""
    return base_pdf((x - shift) / scale) / scale


def _cdf(x: float, scale: float, shift: float) -> float:
    return base_cdf((x - shift) / scale)


def _log_grid(lo: float = 0.5, hi: float = 60000.0, points: int = 24000) -> list[float]:
    step = (math.log(hi) - math.log(lo)) / (points - 1)
    return [lo * math.exp(i * step) for i in range(points)]


def _kl_terms(p: float, q: float) -> float:
    if p <= 0.0:
        return 0.0
    return p * math.log(p / q)


def latency_kl_per_request(c: Canary, w: float, margin: float = 1.0) -> float:
    """JS_w(law of canary / margin, law of baseline): KL_inf per request (nats)."""
    grid = _log_grid()
    total = 0.0
    prev = None
    for x in grid:
        fc = _pdf(x, c.scale / margin, c.shift_ms / margin)
        fb = base_pdf(x)
        m = w * fc + (1 - w) * fb
        val = 0.0 if m <= 0 else w * _kl_terms(fc, m) + (1 - w) * _kl_terms(fb, m)
        if prev is not None:
            total += 0.5 * (val + prev[1]) * (x - prev[0])
        prev = (x, val)
    return total


def p_slower(c: Canary, margin: float = 1.0) -> float:
    """theta = P(canary > margin x baseline), numerically."""
    grid = _log_grid(points=12000)
    total = 0.0
    prev = None
    for y in grid:
        val = base_pdf(y) * (1.0 - _cdf(margin * y, c.scale, c.shift_ms))
        if prev is not None:
            total += 0.5 * (val + prev[1]) * (y - prev[0])
        prev = (y, val)
    return total


def _bern_kl(p: float, q: float) -> float:
    q = min(max(q, 1e-15), 1 - 1e-15)
    return _kl_terms(p, q) + _kl_terms(1 - p, 1 - q)


def error_kl_per_request(p_b: float, p_c: float, w: float, margin: float = 0.0) -> float:
    """min over baseline rates b of w KL(p_c || b + margin (1 - b)) + (1 - w) KL(p_b || b)."""

    def f(b: float) -> float:
        return w * _bern_kl(p_c, b + margin * (1 - b)) + (1 - w) * _bern_kl(p_b, b)

    lo, hi = 1e-9, max(p_b, p_c)
    g = (math.sqrt(5) - 1) / 2
    for _ in range(200):  # golden section: f is convex in b
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if f(x1) < f(x2):
            hi = x2
        else:
            lo = x1
    return f((lo + hi) / 2)


def bound_canary_requests(kl_per_request: float, w: float, alpha: float) -> float:
    """ln(1/alpha) / KL in canary requests (KL per request of the two-sample stream)."""
    if kl_per_request <= 0:
        return math.inf
    return w * math.log(1 / alpha) / kl_per_request


def pair_bound(theta: float, alpha: float) -> float:
    """ln(1/alpha) / KL(Bern(theta) || Bern(1/2)), in blocks (= canary requests at 50/50)."""
    kl = _bern_kl(theta, 0.5)
    return math.inf if kl <= 0 else math.log(1 / alpha) / kl


# -- fixed-sample (one-look) tests, sized analytically ------------------------------------------


def fixed_n_errors(p_b: float, p_c: float, w: float, alpha: float, power: float,
                   margin: float = 0.0) -> int:
    """Canary requests for a one-sided two-proportion z-test (pooled under "no difference",
    Wald with the margin in points otherwise) to reach `power`."""
    za, zb = _N.inv_cdf(1 - alpha), _N.inv_cdf(power)
    m = margin * (1 - p_b)
    delta = p_c - p_b - m
    if delta <= 0:
        return 0
    sd1 = math.sqrt(p_c * (1 - p_c) / w + p_b * (1 - p_b) / (1 - w))
    if margin == 0.0:
        pbar = w * p_c + (1 - w) * p_b
        sd0 = math.sqrt(pbar * (1 - pbar) * (1 / w + 1 / (1 - w)))
    else:
        sd0 = sd1
    total = ((za * sd0 + zb * sd1) / delta) ** 2
    return math.ceil(w * total)


def fixed_n_latency(theta: float, w: float, alpha: float, power: float) -> int:
    """Canary requests for a one-sided Mann-Whitney test (Noether's formula) to reach `power`
    against P(canary > margin x baseline) = theta; at least 5 (the exact test's smallest n that
    can reject at 1 %)."""
    if theta <= 0.5:
        return 0
    za, zb = _N.inv_cdf(1 - alpha), _N.inv_cdf(power)
    total = (za + zb) ** 2 / (12 * w * (1 - w) * (theta - 0.5) ** 2)
    return max(5, math.ceil(w * total))


def binomial_upper(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound for a proportion k / n."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:
        return sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                            + (i * math.log(p) if i else 0.0) + (n - i) * math.log1p(-p))
                   for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > 1 - conf:
            lo = mid
        else:
            hi = mid
    return hi
