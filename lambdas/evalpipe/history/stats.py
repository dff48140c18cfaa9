"""How sure a change of a metric is: a seeded bootstrap interval of the mean change, and the
smallest drop a comparison of this size could detect.

Pure and deterministic: the same scores give the same interval (``random.Random(seed)``, no
numpy in the Lambda bundle). docs/suite-file.md ("Regressions") explains the rules that use it.

- :func:`paired_interval`: records scored in both runs, matched by key; the interval of the mean
  of the per-record differences (this run - baseline). Each record is its own control, so the
  judge's per-prompt difficulty cancels out.
- :func:`unpaired_interval`: the fallback when too few records pair up; the interval of the
  difference of the two runs' means, each run resampled on its own.

Examples
--------
>>> change = paired_interval([(1.0, 0.5), (0.5, 0.5), (0.75, 0.5), (1.0, 1.0)], resamples=500)
>>> round(change.mean, 3), change.pairs, change.paired
(0.188, 4, True)
>>> change.low <= change.mean <= change.high
True
"""

from __future__ import annotations

import math
import statistics
from array import array
from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# 2000 resamples put the 2.5% / 97.5% percentiles within about 0.005 of their limit for scores on
# 0..1 (the interval's own noise stays far below any tolerance worth setting), in a few ms.
DEFAULT_RESAMPLES = 2000
# Fixed, so the same two runs always get the same interval (a re-run review, `evalpipe compare`).
DEFAULT_SEED = 20260301
# From this many values on, the interval is the normal one (mean +- z * standard error). A
# bootstrap costs resamples x n draws: 3.5 s a metric at 10,000 pairs, so 25 metrics of a
# 50,000-record run would outlast the parse function; at this size the percentile bootstrap and
# the normal interval agree within 0.002 for scores on 0..1 (tests/unit/history/test_stats_sizes.py).
NORMAL_FROM = 2000
CONFIDENCE = 0.95
# The minimum detectable drop is the true drop caught this often (the usual 80% power).
POWER = 0.8


@dataclass(frozen=True)
class Change:
    """The mean change of a metric (this run - baseline, raw sign) and its interval.

    Attributes
    ----------
    mean
        Paired: the mean of the per-record differences; unpaired: the difference of the means.
    low, high
        The ``CONFIDENCE`` bootstrap percentile interval of ``mean``.
    pairs
        Records scored in both runs that the interval rests on (0 for the unpaired fallback).
    paired
        False for the unpaired fallback.
    standard_error
        The standard error of ``mean`` (the sample formula; 0 when every difference is equal).
    """

    mean: float
    low: float
    high: float
    pairs: int
    paired: bool
    standard_error: float

    def detectable(self, tolerance: float) -> float:
        """The smallest true drop (positive = worse, before direction) this comparison catches
        ``POWER`` of the time: it must clear the tolerance by the interval's half-width plus
        the power margin (``tolerance + (z_0.975 + z_0.8) * standard error``)."""
        normal = statistics.NormalDist()
        margin = normal.inv_cdf(1 - (1 - CONFIDENCE) / 2) + normal.inv_cdf(POWER)
        return tolerance + margin * self.standard_error


class Sample:
    """One sample's values as a comparison collects them, in bounded memory.

    The values are kept while there are fewer than `NORMAL_FROM` (the bootstrap resamples them);
    their count, mean and spread are kept whatever their number (Welford's running moments: the
    normal interval needs nothing else). So a metric of a 50,000-record comparison holds 2,000
    doubles, not 50,000.
    """

    __slots__ = ("_m2", "mean", "n", "values")

    def __init__(self, values: Iterable[float] = ()) -> None:
        self.values: array[float] = array("d")
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0
        for value in values:
            self.add(value)

    def add(self, value: float) -> None:
        self.n += 1
        if self.n < NORMAL_FROM:
            self.values.append(value)
        elif self.values:
            self.values = array("d")  # from here on the normal interval needs the moments only
        delta = value - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (value - self.mean)

    def __len__(self) -> int:
        return self.n

    @property
    def standard_error(self) -> float:
        """The sample standard error of the mean (0 for fewer than two values)."""
        if self.n < 2:
            return 0.0
        return math.sqrt(self._m2 / (self.n - 1)) / math.sqrt(self.n)


def paired_change(differences: Sample) -> Change:
    """`difference_interval` of a collected sample: the normal interval from `NORMAL_FROM` values."""
    if differences.n < NORMAL_FROM:
        return difference_interval(differences.values)
    low, high = _normal(differences.mean, differences.standard_error)
    error = differences.standard_error
    return Change(
        mean=differences.mean, low=low, high=high, pairs=differences.n, paired=True, standard_error=error
    )


def unpaired_change(current: Sample, baseline: Sample) -> Change:
    """`unpaired_interval` of two collected samples: the normal interval once either has
    `NORMAL_FROM` values (its values are no longer kept, and a bootstrap of it would cost
    resamples x n)."""
    if max(current.n, baseline.n) < NORMAL_FROM:
        return unpaired_interval(current.values, baseline.values)
    if not current.n or not baseline.n:
        raise ValueError("an unpaired interval needs scores in both runs")
    mean = current.mean - baseline.mean
    error = math.hypot(current.standard_error, baseline.standard_error)
    low, high = _normal(mean, error)
    return Change(mean=mean, low=low, high=high, pairs=0, paired=False, standard_error=error)


def paired_interval(
    pairs: Sequence[tuple[float, float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Change:
    """Bootstrap the mean of ``current - baseline`` over records scored in both runs.

    Parameters
    ----------
    pairs
        ``(current score, baseline score)`` per matched record; at least one.
    resamples, seed
        The bootstrap's size and its random stream.

    Raises
    ------
    ValueError
        No pairs.
    """
    if not pairs:
        raise ValueError("a paired interval needs at least one pair")
    return difference_interval(
        [current - baseline for current, baseline in pairs], resamples=resamples, seed=seed
    )


def difference_interval(
    differences: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    normal_from: int = NORMAL_FROM,
) -> Change:
    """`paired_interval` from the pairs' differences (``current - baseline``), held compactly.

    Raises
    ------
    ValueError
        No differences.
    """
    if not differences:
        raise ValueError("a paired interval needs at least one pair")
    n = len(differences)
    mean = math.fsum(differences) / n
    error = _standard_error(differences)
    if n >= normal_from:
        low, high = _normal(mean, error)
    else:
        rng = Random(seed)
        means = sorted(sum(rng.choices(differences, k=n)) / n for _ in range(resamples))
        low, high = _expanded(mean, _percentiles(means), n)
    return Change(mean=mean, low=low, high=high, pairs=n, paired=True, standard_error=error)


def unpaired_interval(
    current: Sequence[float],
    baseline: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    normal_from: int = NORMAL_FROM,
) -> Change:
    """Bootstrap ``mean(current) - mean(baseline)``, each run's scores resampled on their own.

    Raises
    ------
    ValueError
        Either run has no score.
    """
    if not current or not baseline:
        raise ValueError("an unpaired interval needs scores in both runs")
    nc, nb = len(current), len(baseline)
    mean = math.fsum(current) / nc - math.fsum(baseline) / nb
    error = math.hypot(_standard_error(current), _standard_error(baseline))
    if min(nc, nb) >= normal_from:
        low, high = _normal(mean, error)
    else:
        rng = Random(seed)
        means = sorted(
            sum(rng.choices(current, k=nc)) / nc - sum(rng.choices(baseline, k=nb)) / nb
            for _ in range(resamples)
        )
        low, high = _expanded(mean, _percentiles(means), min(nc, nb))
    return Change(
        mean=mean,
        low=low,
        high=high,
        pairs=0,
        paired=False,
        standard_error=error,
    )


def _normal(mean: float, error: float) -> tuple[float, float]:
    """The ``CONFIDENCE`` normal interval of a mean with this standard error."""
    half = statistics.NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) * error
    return mean - half, mean + half


def _percentiles(ordered: Sequence[float]) -> tuple[float, float]:
    """The two-sided ``CONFIDENCE`` percentile bounds of sorted bootstrap means (nearest rank)."""
    tail = (1 - CONFIDENCE) / 2
    last = len(ordered) - 1
    return ordered[round(tail * last)], ordered[round((1 - tail) * last)]


def _expanded(mean: float, bounds: tuple[float, float], n: int) -> tuple[float, float]:
    """Widen a percentile interval of ``n`` values the way Hesterberg's expanded percentile
    interval does: the plain one is too narrow for small samples (it acts as if the spread were
    known, and resampling n values shrinks it by sqrt((n-1)/n)); 12 pairs of pure judge noise
    would then regress about once in a hundred comparisons."""
    if n < 2:
        return bounds
    z = statistics.NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)
    factor = _t_quantile(z, n - 1) / z * math.sqrt(n / (n - 1))
    low, high = bounds
    return mean - (mean - low) * factor, mean + (high - mean) * factor


def _t_quantile(z: float, df: int) -> float:
    """Student's t quantile for the normal quantile ``z`` (Cornish-Fisher, within 0.5% for df >= 3)."""
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def _standard_error(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))
