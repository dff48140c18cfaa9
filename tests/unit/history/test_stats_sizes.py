"""Large comparisons: from `NORMAL_FROM` values the interval is the normal one, which the bootstrap
agrees with at that size; a 50,000-pair comparison costs no bootstrap."""

from __future__ import annotations

import math
import statistics
from random import Random

import pytest

from evalpipe.history.stats import (
    NORMAL_FROM,
    Sample,
    difference_interval,
    paired_change,
    unpaired_change,
    unpaired_interval,
)

Z = statistics.NormalDist().inv_cdf(0.975)

# Differences of scores on 0..1 as judges give them: symmetric noise, rare large drops, wide spread.
SHAPES = {
    "symmetric": lambda r: r.choice((-0.25, 0.0, 0.25)),
    "rare drops": lambda r: -1.0 if r.random() < 0.02 else 0.0,
    "very rare drops": lambda r: -1.0 if r.random() < 0.005 else 0.0,
    "wide": lambda r: r.choice((-1.0, -0.5, 0.0, 0.5, 1.0)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [1, 2])
def test_at_the_threshold_the_bootstrap_and_the_normal_interval_agree(shape: str, seed: int) -> None:
    rng = Random(seed)
    differences = [SHAPES[shape](rng) for _ in range(NORMAL_FROM)]
    normal = difference_interval(differences)
    bootstrap = difference_interval(differences, normal_from=math.inf)  # type: ignore[arg-type]
    assert normal.mean == bootstrap.mean
    assert normal.low == pytest.approx(bootstrap.low, abs=0.002)
    assert normal.high == pytest.approx(bootstrap.high, abs=0.002)


def test_below_the_threshold_the_bootstrap_is_used() -> None:
    rng = Random(3)
    differences = [SHAPES["rare drops"](rng) for _ in range(NORMAL_FROM - 1)]
    change = difference_interval(differences)
    half = Z * change.standard_error
    # The bootstrap's percentiles are not symmetric around the mean the way the normal interval is
    assert (change.low, change.high) != pytest.approx((change.mean - half, change.mean + half), abs=1e-12)


def test_fifty_thousand_pairs_get_the_normal_interval() -> None:
    rng = Random(4)
    differences = [SHAPES["wide"](rng) for _ in range(50_000)]
    change = difference_interval(differences)
    half = Z * change.standard_error
    assert (change.low, change.high) == pytest.approx((change.mean - half, change.mean + half), abs=1e-12)
    assert change.pairs == 50_000 and change.paired


def test_large_unpaired_runs_get_the_normal_interval_too() -> None:
    rng = Random(5)
    current = [rng.choice((0.0, 0.5, 1.0)) for _ in range(NORMAL_FROM)]
    baseline = [rng.choice((0.5, 1.0)) for _ in range(NORMAL_FROM + 10)]
    normal = unpaired_interval(current, baseline)
    bootstrap = unpaired_interval(current, baseline, normal_from=math.inf)  # type: ignore[arg-type]
    half = Z * normal.standard_error
    assert (normal.low, normal.high) == pytest.approx((normal.mean - half, normal.mean + half), abs=1e-12)
    assert normal.low == pytest.approx(bootstrap.low, abs=0.003)
    assert normal.high == pytest.approx(bootstrap.high, abs=0.003)


def test_a_collected_sample_keeps_its_values_below_the_threshold_only() -> None:
    rng = Random(6)
    values = [SHAPES["wide"](rng) for _ in range(3 * NORMAL_FROM)]
    small, large = Sample(values[: NORMAL_FROM - 1]), Sample(values)
    # Below the threshold the values are kept and the bootstrap is the one of the values
    assert list(small.values) == values[: NORMAL_FROM - 1]
    assert paired_change(small) == difference_interval(values[: NORMAL_FROM - 1])
    # From it on only the moments are: the same interval as from every value, within float noise
    assert len(large) == 3 * NORMAL_FROM and len(large.values) == 0
    full = difference_interval(values)
    kept = paired_change(large)
    assert (kept.mean, kept.low, kept.high, kept.standard_error) == pytest.approx(
        (full.mean, full.low, full.high, full.standard_error), abs=1e-12
    )
    assert kept.pairs == full.pairs


def test_collected_unpaired_samples_match_the_intervals_of_their_values() -> None:
    rng = Random(7)
    current = [rng.choice((0.0, 0.5, 1.0)) for _ in range(50)]
    baseline = [rng.choice((0.5, 1.0)) for _ in range(2 * NORMAL_FROM)]
    # One sample past the threshold: its values are gone, so the interval is the normal one
    kept = unpaired_change(Sample(current), Sample(baseline))
    half = Z * kept.standard_error
    assert (kept.low, kept.high) == pytest.approx((kept.mean - half, kept.mean + half), abs=1e-12)
    assert kept.mean == pytest.approx(sum(current) / 50 - sum(baseline) / len(baseline), abs=1e-12)
    # Both below it: exactly the bootstrap of the values
    assert unpaired_change(Sample(current), Sample(baseline[:60])) == unpaired_interval(
        current, baseline[:60]
    )
