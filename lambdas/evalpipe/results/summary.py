"""What a run's output amounts to, as the run item stores it: `RunSummary`, with a `MetricSummary`
per metric, the category and dataset averages and the worst flagged scores (`LowRecord`), and its
round trip through the runs table (`RunSummary.as_item` / `RunSummary.from_item`, which tolerates
the ints DynamoDB returns for stored floats).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from evalpipe.run.triggers import Verdict


@dataclass
class MetricSummary:
    """Aggregate of one metric over a run; N/A scores are counted apart, never averaged."""

    metric: str
    average: float | None
    scored: int
    na: int
    na_rate: float
    low_count: int
    min: float | None
    max: float | None
    rule: str


@dataclass
class LowRecord:
    """One flagged score, as a notification lists it.

    `rule` is the metric's rule as text (`"< 0.5"`, `"> 0.5"`); run items written before it
    existed read back with `""`.
    """

    index: int
    metric: str
    score: float
    category: str
    prompt_excerpt: str
    explanation: str | None
    rule: str = ""


@dataclass
class RunSummary:
    """What a run's output amounts to.

    Parameters
    ----------
    record_count
        Records parsed.
    metrics
        Per metric, in order of first appearance.
    categories
        Category -> metric -> average (None when every score of that metric there was N/A).
    low_records
        The worst flagged scores, worst first (by their rule's `badness`, then index), capped.
    low_count
        All flagged scores of the run (record x metric pairs), not just the listed ones.
    verdict
        `LOW_SCORES` if any score is flagged, else `PASSED`.
    datasets
        Dataset -> metric -> average, like `categories`, when the records come from more than
        one dataset (a job with several ``datasetMetricConfigs`` entries); empty otherwise,
        since one dataset's averages are `metrics`' own.
    """

    record_count: int
    metrics: dict[str, MetricSummary]
    categories: dict[str, dict[str, float | None]]
    low_records: list[LowRecord]
    low_count: int
    verdict: Verdict
    datasets: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        """Plain dicts/lists/floats (the runs table converts numbers to Decimal)."""
        item = asdict(self)
        item["verdict"] = str(self.verdict)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RunSummary:
        """Rebuild from `as_item()` output or a run item read back from the table."""
        metrics = {name: MetricSummary(**_floats(m)) for name, m in (item.get("metrics") or {}).items()}
        low_records = [LowRecord(**_floats(low)) for low in item.get("low_records") or []]
        return cls(
            record_count=int(item.get("record_count") or 0),
            metrics=metrics,
            categories={
                cat: {m: _float_or_none(v) for m, v in avgs.items()}
                for cat, avgs in (item.get("categories") or {}).items()
            },
            low_records=low_records,
            low_count=int(item.get("low_count") or sum(m.low_count for m in metrics.values())),
            verdict=Verdict(item["verdict"]),
            datasets={
                name: {m: _float_or_none(v) for m, v in avgs.items()}
                for name, avgs in (item.get("datasets") or {}).items()
            },
        )


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _floats(item: dict) -> dict:
    """Numbers read back from DynamoDB may be ints where floats were stored (1.0 -> 1)."""
    floats = {"average", "na_rate", "min", "max", "score"}
    return {k: (_float_or_none(v) if k in floats else v) for k, v in item.items()}
