"""Human ratings folded per metric and model: average, distribution and workers, as given.

The notification and the report show these beside the 0-1 averages: a Likert metric's 3.8 of 5
and how many workers gave each value say more than its scaled 0.7.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from evalpipe.run.model import HumanRatingSummary

if TYPE_CHECKING:
    from evalpipe.results.records import HumanRating


class HumanTally:
    """Running tallies of `HumanRating`s, keyed by (metric, model)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str | None], Counter[float]] = {}
        self._workers: dict[tuple[str, str | None], set[str]] = {}
        self._methods: dict[tuple[str, str | None], str | None] = {}

    def add(self, rating: HumanRating) -> None:
        key = (rating.metric, rating.model)
        self._values.setdefault(key, Counter())[rating.value] += 1
        self._methods.setdefault(key, rating.method)
        if rating.worker is not None:
            self._workers.setdefault(key, set()).add(rating.worker)

    @property
    def count(self) -> int:
        """All ratings added."""
        return sum(sum(values.values()) for values in self._values.values())

    def summaries(self) -> list[HumanRatingSummary]:
        """One summary per metric and model, in order of first appearance."""
        out = []
        for (metric, model), values in self._values.items():
            n = sum(values.values())
            out.append(
                HumanRatingSummary(
                    metric=metric,
                    model=model,
                    method=self._methods[(metric, model)],
                    ratings=n,
                    # Ratings without a worker id (older layout) count as one worker each.
                    workers=len(self._workers.get((metric, model), ())) or n,
                    average=sum(v * c for v, c in values.items()) / n if n else None,
                    distribution={_label(v): c for v, c in sorted(values.items())},
                )
            )
        return out


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
