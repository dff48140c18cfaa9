"""Run-level comparison: each metric's average against the baseline run's, and the verdict.

Rules (docs/suite-file.md, "Regressions"):

- the baseline is the newest earlier COMPLETED run of the suite, or the pinned
  ``pipeline.regression.baselineRunId`` (:func:`choose_baseline`);
- per metric, ``drop`` = baseline average - this run's average (the other way round for
  lower-is-better metrics, whose low-score rule flags high scores), ``relative_drop`` = drop /
  |baseline average| (undefined for a 0 baseline, so only the absolute limit applies);
- a metric regressed when ``drop > maxAbsoluteDrop`` or ``relative_drop > maxRelativeDrop``
  (each limit may be off); an absolute limit that comes from ``default`` (or the built-in 0.1)
  is on a 0..1 scale and is multiplied by the scale of a percentage built-in (Robustness:
  0.1 -> 10 points), one given under ``metrics`` for the metric is in its own units
  (:func:`absolute_limit`); it is not compared when either run has fewer than
  ``minScoredRecords`` scored records, every score N/A, or lacks the metric;
- the verdict of a compared run: REGRESSED over LOW_SCORES over PASSED
  (`evalpipe.run.status.reviewed_verdict`).

Inputs are runs as `RunsTable` returns them. Everything here is pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from evalpipe.history.records import EPSILON, direction, split_changes
from evalpipe.run.model import Comparison, MetricComparison, MetricStatus, MetricSummary, RecordChange, Run
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import iso
from evalpipe.suite import BUILTIN_PREFIX
from evalpipe.suite.metrics import metric_scale

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from evalpipe.suite import RegressionSettings, Suite
# A metric N/A for more than this share of its records is likely scoped too narrowly.
NA_RATE_WARNING = 0.6
# How many record changes of each kind a stored comparison keeps (the item stays small).
MAX_STORED_RECORD_CHANGES = 20
# How far back the default baseline is looked for.
HISTORY_LIMIT = 50


# ---------------------------------------------------------------------------------- baseline


class _RunReader(Protocol):
    """What :func:`find_baseline` needs of `evalpipe.aws.runs_table.RunsTable`."""

    def get(self, run_id: str) -> Run | None: ...

    def history(self, suite: str, limit: int = 20) -> list[Run]: ...


def choose_baseline(history: Sequence[Run], current_run_id: str, pinned: str | None = None) -> Run | None:
    """The run to compare ``current_run_id`` with, from the suite's history.

    Parameters
    ----------
    history
        `RunsTable.history` rows, newest first (the current run is normally among them).
    current_run_id
        The run being judged.
    pinned
        ``pipeline.regression.baselineRunId``, if the suite pins one.

    Returns
    -------
    Run or None
        With ``pinned``: that row if it is in ``history`` and usable (COMPLETED, with metrics,
        not the current run), else None -- the caller may look an older pinned run up itself
        (:func:`find_baseline` does). Without: the first usable row after the current run in
        ``history`` (runs created later, e.g. concurrent ones, are skipped); when the current
        run is not in ``history`` at all, the first usable row.
    """
    if pinned:
        if pinned == current_run_id:
            return None
        row = next((r for r in history if r.run_id == pinned), None)
        return row if row is not None and _usable(row) else None
    after_current = not any(r.run_id == current_run_id for r in history)
    for row in history:
        if row.run_id == current_run_id:
            after_current = True
            continue
        if after_current and _usable(row):
            return row
    return None


def find_baseline(runs: _RunReader, current_run: Run, suite: Suite, limit: int = HISTORY_LIMIT) -> Run | None:
    """:func:`choose_baseline` over the table: the suite's last ``limit`` runs, and a pinned run
    looked up directly when it is older than those (it must be a COMPLETED run of this suite).
    """
    run_id = current_run.run_id
    pinned = suite.pipeline.regression.baseline_run_id
    history = runs.history(suite.name, limit=limit)
    baseline = choose_baseline(history, run_id, pinned)
    if baseline is None and pinned and pinned != run_id:
        row = runs.get(pinned)
        if row is not None and row.suite == current_run.suite and _usable(row):
            baseline = row
    return baseline


def _usable(row: Run) -> bool:
    return row.status is RunStatus.COMPLETED and bool(row.metrics)


# -------------------------------------------------------------------------------- comparison


def compare_runs(
    current_run: Run,
    baseline_run: Run | None,
    suite: Suite,
    *,
    record_changes: Iterable[RecordChange] | None = None,
    max_record_changes: int = MAX_STORED_RECORD_CHANGES,
) -> Comparison:
    """Compare a run's metric averages with the baseline run's.

    Parameters
    ----------
    current_run
        The run (its ``metrics``).
    baseline_run
        The baseline run, or None (no earlier COMPLETED run, or the pinned one is gone).
    suite
        Gives the limits (``pipeline.regression``) and each metric's direction (its low-score
        rule: ``above`` / ``atOrAbove`` = lower is better).
    record_changes
        `compare_records` output to keep with the comparison (the worst
        ``max_record_changes`` of each kind are stored, the totals counted).

    Returns
    -------
    Comparison
        ``regressed`` is True when at least one metric regressed; without a baseline every
        metric is NOT_COMPARED.
    """
    settings = suite.pipeline.regression
    pinned = settings.baseline_run_id
    run_id = current_run.run_id
    current_metrics = current_run.metrics
    baseline_metrics = baseline_run.metrics if baseline_run is not None else {}
    is_lower_better = direction(suite)
    baseline_id = baseline_run.run_id if baseline_run is not None else None

    comparisons = []
    for name in [*current_metrics, *(m for m in baseline_metrics if m not in current_metrics)]:
        absolute, relative = settings.limits_for(name)
        absolute = absolute_limit(settings, name, absolute, builtin=suite.is_builtin(name))
        comparisons.append(
            _compare_metric(
                name,
                current_metrics.get(name),
                baseline_metrics.get(name) if baseline_run is not None else None,
                has_baseline=baseline_run is not None,
                lower_better=is_lower_better(name),
                max_absolute=absolute,
                max_relative=relative,
                min_scored=settings.min_scored_records,
            )
        )

    warnings = na_rate_warnings(current_run)
    for comparison in comparisons:
        if comparison.average is None and comparison.metric not in current_metrics:
            warnings.append(f"{comparison.metric} was in the baseline run {baseline_id} but not in this run.")

    worsened, transitions = split_changes(record_changes or ())
    return Comparison(
        run_id=run_id,
        baseline_run_id=baseline_id,
        baseline_created_at=iso(baseline_run.created_at) if baseline_run is not None else None,
        baseline_pinned=bool(pinned) and baseline_id == pinned,
        baseline_note=_baseline_note(run_id, baseline_id, pinned),
        min_scored_records=settings.min_scored_records,
        metrics=comparisons,
        regressed=any(c.regressed for c in comparisons),
        warnings=warnings,
        record_changes=worsened[:max_record_changes],
        na_transitions=transitions[:max_record_changes],
        worsened_count=len(worsened),
        na_transition_count=len(transitions),
    )


def absolute_limit(
    settings: RegressionSettings, metric: str, absolute: float | None, *, builtin: bool
) -> float | None:
    """``maxAbsoluteDrop`` of ``metric`` in the metric's own units.

    Limits are written for scores from 0 to 1. A percentage built-in (``Builtin.Robustness``,
    0..100) would never regress on a 0.1 limit, so a limit it inherits -- from
    ``regression.default`` or the built-in default -- is multiplied by its scale (0.1 -> 10
    points). A limit given for the metric itself under ``regression.metrics`` (either spelling,
    with or without ``Builtin.``) is taken as written: whoever sets it sees the metric's numbers.

    Parameters
    ----------
    settings
        The suite's ``pipeline.regression``.
    metric
        The metric as the run spells it.
    absolute
        ``settings.limits_for(metric)[0]`` (None = the check is off).
    builtin
        Whether the metric is built in (a custom metric named ``Robustness`` keeps its limit).

    Examples
    --------
    >>> from evalpipe.suite import RegressionSettings
    >>> own = {"metrics": {"Robustness": {"maxAbsoluteDrop": 5}}}
    >>> absolute_limit(RegressionSettings(), "Builtin.Robustness", 0.1, builtin=True)
    10.0
    >>> absolute_limit(RegressionSettings.model_validate(own), "Builtin.Robustness", 5, builtin=True)
    5
    >>> absolute_limit(RegressionSettings(), "Robustness", 0.1, builtin=False)
    0.1
    """
    if absolute is None or not builtin:
        return absolute
    scale = metric_scale(metric)
    bare = metric.removeprefix(BUILTIN_PREFIX)
    own = (
        settings.metrics.get(metric)
        or settings.metrics.get(bare)
        or settings.metrics.get(BUILTIN_PREFIX + bare)
    )
    if scale == 1.0 or (own is not None and "max_absolute_drop" in own.model_fields_set):
        return absolute
    return absolute * scale


def na_rate_warnings(run: Run, threshold: float = NA_RATE_WARNING) -> list[str]:
    """One warning per metric that is N/A for more than ``threshold`` of the run's records.

    Such a metric is likely scoped too narrowly for the dataset (its instructions apply to few
    prompts), and its average rests on few records.
    """
    warnings = []
    for name, summary in run.metrics.items():
        rate = summary.na_rate
        if rate > threshold:
            scored, na = summary.scored, summary.na
            counts = f" ({na} of {scored + na} records)" if scored + na else ""
            warnings.append(
                f"{name} is N/A for {rate:.0%} of the records{counts}: it is likely scoped too "
                f"narrowly for this dataset, and its average rests on {scored} scored "
                f"record{'' if scored == 1 else 's'}."
            )
    return warnings


def _compare_metric(
    name: str,
    current: MetricSummary | None,
    baseline: MetricSummary | None,
    *,
    has_baseline: bool,
    lower_better: bool,
    max_absolute: float | None,
    max_relative: float | None,
    min_scored: int,
) -> MetricComparison:
    average = current.average if current is not None else None
    base_average = baseline.average if baseline is not None else None
    scored = current.scored if current is not None else 0
    base_scored = baseline.scored if baseline is not None else 0
    na_rate = current.na_rate if current is not None else None
    result = MetricComparison(
        metric=name,
        lower_is_better=lower_better,
        average=average,
        baseline_average=base_average,
        delta=None,
        relative_delta=None,
        drop=None,
        relative_drop=None,
        scored=scored,
        baseline_scored=base_scored,
        na_rate=na_rate,
        baseline_na_rate=baseline.na_rate if baseline is not None else None,
        max_absolute_drop=max_absolute,
        max_relative_drop=max_relative,
        min_scored_records=min_scored,
        status=MetricStatus.NOT_COMPARED.value,
        regressed=False,
        reason="",
        na_warning=na_rate is not None and na_rate > NA_RATE_WARNING,
    )
    if average is not None and base_average is not None:
        result.delta = average - base_average
        result.drop = -result.delta if not lower_better else result.delta
        if abs(base_average) > EPSILON:
            result.relative_delta = result.delta / abs(base_average)
            result.relative_drop = result.drop / abs(base_average)

    if not has_baseline:
        result.reason = "no baseline run to compare with"
    elif current is None:
        result.reason = "not in this run"
    elif baseline is None:
        result.reason = "new metric: not in the baseline run"
    elif average is None:
        result.reason = "every score is N/A in this run"
    elif base_average is None:
        result.reason = "every score was N/A in the baseline run"
    elif scored < min_scored or base_scored < min_scored:
        result.reason = (
            f"too few scored records to compare (this run {scored}, baseline {base_scored}; "
            f"at least {min_scored} needed)"
        )
    else:
        _judge(result)
    return result


def _judge(result: MetricComparison) -> None:
    """Set status/regressed/reason of a metric that both runs scored often enough."""
    assert result.drop is not None
    verb = "rose" if result.lower_is_better else "dropped"
    reasons = []
    if result.max_absolute_drop is not None and result.drop > result.max_absolute_drop + EPSILON:
        reasons.append(f"{verb} by {result.drop:.3f} (limit {_number(result.max_absolute_drop)})")
    if (
        result.max_relative_drop is not None
        and result.relative_drop is not None
        and result.relative_drop > result.max_relative_drop + EPSILON
    ):
        reasons.append(
            f"{verb} by {result.relative_drop:.1%} of the baseline average "
            f"(limit {result.max_relative_drop:.0%})"
        )
    if reasons:
        result.status = MetricStatus.REGRESSED.value
        result.regressed = True
        result.reason = "; ".join(reasons) + (" (lower is better)" if result.lower_is_better else "")
        return
    result.status = MetricStatus.OK.value
    if result.max_absolute_drop is None and result.max_relative_drop is None:
        result.reason = "no limits set"
    elif abs(result.drop) <= EPSILON:
        result.reason = "unchanged"
    elif result.drop < 0:
        result.reason = f"improved by {-result.drop:.3f}"
    else:
        zero_note = (
            "; relative drop undefined for a 0 baseline"
            if result.relative_drop is None and result.max_relative_drop is not None
            else ""
        )
        result.reason = f"within limits ({verb} by {result.drop:.3f}{zero_note})"


def _baseline_note(run_id: str | None, baseline_id: str | None, pinned: str | None) -> str:
    """How the baseline was chosen (it is named beside the note), or why there is none."""
    if pinned:
        if baseline_id == pinned:
            return "the suite's pinned baseline (pipeline.regression.baselineRunId)"
        if run_id == pinned:
            return "this run is the suite's pinned baseline, so it is not compared"
        if baseline_id is None:
            return (
                f"the pinned baseline {pinned} (pipeline.regression.baselineRunId) was not found, "
                "is not a COMPLETED run of this suite, or has no metrics"
            )
        return f"not the suite's pinned baseline {pinned}"
    if baseline_id is None:
        return "no earlier COMPLETED run of this suite to compare with"
    return "the newest earlier COMPLETED run of this suite"


def _number(value: float) -> str:
    return f"{value:g}"
