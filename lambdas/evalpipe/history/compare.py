"""Run-level comparison: each metric's average against the baseline run's, and the verdict.

Rules (docs/suite-file.md, "Regressions"):

- the baseline is the newest earlier COMPLETED run of the suite that is comparable (same judge,
  task types, inference source and metric definitions: :func:`run_facts`), else the newest earlier
  COMPLETED run with the changed metrics not compared, or the pinned
  ``pipeline.regression.baselineRunId`` (:func:`find_comparable_baseline`);
- ``method: bootstrap`` (the default): records are paired by key, the 95% bootstrap interval of
  the mean paired change (`evalpipe.history.stats`) must lie wholly past ``-tolerance`` for a
  regression; an interval that reaches past it only in part is a POSSIBLE_REGRESSION (a warning);
  with fewer than ``minPairs`` pairs the two runs' scores are compared unpaired. Without record
  scores (``samples``) the threshold rule below judges, and the reason says so;
- ``method: threshold``:
- per metric, ``drop`` = baseline average - this run's average (the other way round for
  lower-is-better metrics, whose low-score rule flags high scores), ``relative_drop`` = drop /
  |baseline average| (undefined for a 0 baseline, so only the absolute limit applies);
  a metric regressed when ``drop > maxAbsoluteDrop`` or ``relative_drop > maxRelativeDrop``
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

import hashlib
import json
from typing import TYPE_CHECKING, Any, Protocol

from evalpipe.history.records import EPSILON, RecordChanges, direction
from evalpipe.history.stats import Change, paired_change, unpaired_change
from evalpipe.run.model import (
    Comparison,
    MetricComparison,
    MetricStatus,
    MetricSummary,
    Run,
    RunFacts,
)
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import iso
from evalpipe.suite import BUILTIN_PREFIX, SuiteError
from evalpipe.suite.metrics import metric_scale
from evalpipe.suite.regression import RegressionMethod

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from evalpipe.history.records import MetricSamples, ScoreSamples
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
    return next(iter(_candidates(history, current_run_id)), None)


def _candidates(history: Sequence[Run], current_run_id: str) -> Iterator[Run]:
    """The usable rows after the current run, newest first (all of them when it is absent)."""
    after_current = not any(r.run_id == current_run_id for r in history)
    for row in history:
        if row.run_id == current_run_id:
            after_current = True
            continue
        if after_current and _usable(row):
            yield row


def find_baseline(runs: _RunReader, current_run: Run, suite: Suite, limit: int = HISTORY_LIMIT) -> Run | None:
    """The baseline of :func:`find_comparable_baseline`, without its notes."""
    return find_comparable_baseline(runs, current_run, suite, limit)[0]


def find_comparable_baseline(
    runs: _RunReader, current_run: Run, suite: Suite, limit: int = HISTORY_LIMIT
) -> tuple[Run | None, list[str]]:
    """The run to compare ``current_run`` with, and why newer runs were passed over.

    The pinned run when the suite pins one (looked up directly when it is older than the
    suite's last ``limit`` runs; it must be a COMPLETED run of this suite). Otherwise the newest
    earlier usable run whose facts (:func:`run_facts`) match this run's for every metric; when no
    run is comparable, the newest usable one (its changed metrics are then not compared).

    Returns
    -------
    tuple
        ``(baseline or None, notes)``: one note per newer run passed over, naming what changed.
    """
    run_id = current_run.run_id
    pinned = suite.pipeline.regression.baseline_run_id
    history = runs.history(suite.name, limit=limit)
    if pinned:
        baseline = choose_baseline(history, run_id, pinned)
        if baseline is None and pinned != run_id:
            row = runs.get(pinned)
            if row is not None and row.suite == current_run.suite and _usable(row):
                baseline = row
        return baseline, []
    facts = run_facts(suite)
    notes: list[str] = []
    newest: Run | None = None
    for row in _candidates(history, run_id):
        newest = newest or row
        changed = differences(facts, facts_of(row), list(current_run.metrics))
        if not changed:
            return row, notes
        notes.append(f"skipped {row.run_id}: {'; '.join(dict.fromkeys(changed.values()))}")
    if newest is not None:
        notes.append(f"no earlier run is comparable for every metric: compared with {newest.run_id}")
    return newest, notes


def _usable(row: Run) -> bool:
    return row.status is RunStatus.COMPLETED and bool(row.metrics)


# ----------------------------------------------------------------------------- comparability


def run_facts(suite: Suite) -> RunFacts:
    """What a run of ``suite`` must share with its baseline for their scores to compare.

    Examples
    --------
    >>> from evalpipe.suite import Suite
    >>> suite = Suite.from_document("demo", {"evaluationConfig": {"automated": {
    ...     "datasetMetricConfigs": [{"taskType": "General", "metricNames": ["Builtin.Helpfulness"]}],
    ...     "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": "judge-a"}]}}},
    ...     "inferenceConfig": {"models": [
    ...         {"precomputedInferenceSource": {"inferenceSourceIdentifier": "app"}}]}})
    >>> facts = run_facts(suite)
    >>> facts.judge, facts.task_types, facts.inference, facts.metric_definitions
    ('judge-a', ['General'], 'precomputed:app', {'Builtin.Helpfulness': 'builtin'})
    """
    config = suite.evaluation_config.get("human" if suite.is_human else "automated")
    entries = config.get("datasetMetricConfigs") if isinstance(config, dict) else None
    task_types = [
        str(entry.get("taskType"))
        for entry in entries or []
        if isinstance(entry, dict) and entry.get("taskType")
    ]
    definitions = dict.fromkeys(suite.listed_metric_names, "builtin")
    definitions.update(_custom_definitions(config))
    return RunFacts(
        judge=suite.evaluator_model,
        task_types=task_types,
        inference=_inference_source(suite),
        metric_definitions=definitions,
    )


def facts_of(run: Run) -> RunFacts | None:
    """The run's stored ``facts``, else those of the suite it was validated with, else None."""
    if run.facts is not None:
        return run.facts
    try:
        return run_facts(run.validated_suite())
    except (LookupError, ValueError, SuiteError):
        return None


def differences(current: RunFacts, baseline: RunFacts | None, metrics: Iterable[str]) -> dict[str, str]:
    """metric -> why its scores do not compare with the baseline's (only the metrics that differ).

    A baseline whose facts are unknown (stored before facts existed, without a suite document)
    is taken as comparable: nothing says it is not.
    """
    if baseline is None:
        return {}
    whole = []
    if current.judge != baseline.judge:
        whole.append(f"judge changed from {baseline.judge or 'none'} to {current.judge or 'none'}")
    if current.task_types != baseline.task_types:
        whole.append(
            f"task type changed from {', '.join(baseline.task_types) or 'none'} to "
            f"{', '.join(current.task_types) or 'none'}"
        )
    if current.inference != baseline.inference:
        whole.append(
            f"inference source changed from {baseline.inference or 'none'} to {current.inference or 'none'}"
        )
    changed = {}
    for metric in metrics:
        reasons = list(whole)
        mine = current.metric_definitions.get(metric)
        theirs = baseline.metric_definitions.get(metric)
        if mine is not None and theirs is not None and mine != theirs:
            reasons.append(f"the definition of {metric} changed (instructions or rating scale)")
        if reasons:
            changed[metric] = "; ".join(reasons)
    return changed


def _custom_definitions(config: object) -> dict[str, str]:
    """Custom metric name -> hash of what defines it (the judge scores against these words and
    this scale: an edit makes it a new metric). A human job's metric: its whole entry."""
    if not isinstance(config, dict):
        return {}
    automated = config.get("customMetricConfig")
    raw = automated.get("customMetrics") if isinstance(automated, dict) else config.get("customMetrics")
    found = {}
    for metric in raw if isinstance(raw, list) else []:
        if not isinstance(metric, dict):
            continue
        definition = metric.get("customMetricDefinition")
        if isinstance(definition, dict):
            shown: Any = {
                "instructions": definition.get("instructions"),
                "ratingScale": definition.get("ratingScale"),
            }
            name = definition.get("name")
        else:
            shown, name = metric, metric.get("name")
        if isinstance(name, str):
            found[name] = _digest(shown)
    return found


def _inference_source(suite: Suite) -> str | None:
    precomputed = suite.inference_source_identifier
    if precomputed:
        return f"precomputed:{precomputed}"
    config = suite.inference_config
    if not config:
        return None
    models = config.get("models")
    model = (
        models[0].get("bedrockModel")
        if isinstance(models, list) and models and isinstance(models[0], dict)
        else None
    )
    if isinstance(model, dict) and isinstance(model.get("modelIdentifier"), str):
        return f"model:{model['modelIdentifier']}"
    # Any other source (a live knowledge base, ...): the whole configuration is its identity.
    return f"config:{_digest(config)}"


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# -------------------------------------------------------------------------------- comparison


def compare_runs(
    current_run: Run,
    baseline_run: Run | None,
    suite: Suite,
    *,
    record_changes: RecordChanges | None = None,
    max_record_changes: int = MAX_STORED_RECORD_CHANGES,
    samples: ScoreSamples | None = None,
    comparability_notes: Iterable[str] = (),
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
    samples
        `evalpipe.history.records.score_samples` of the two runs: what the intervals rest on.
        Without it the threshold rule judges every metric.
    comparability_notes
        Why newer runs were passed over (:func:`find_comparable_baseline`).

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

    names = [*current_metrics, *(m for m in baseline_metrics if m not in current_metrics)]
    changed = differences(run_facts(suite), facts_of(baseline_run), names) if baseline_run is not None else {}
    comparisons = []
    for name in names:
        absolute, relative = settings.limits_for(name)
        absolute = absolute_limit(settings, name, absolute, builtin=suite.is_builtin(name))
        result = _compare_metric(
            name,
            current_metrics.get(name),
            baseline_metrics.get(name) if baseline_run is not None else None,
            has_baseline=baseline_run is not None,
            lower_better=is_lower_better(name),
            max_absolute=absolute,
            max_relative=relative,
            min_scored=settings.min_scored_records,
        )
        if name in changed and result.status != MetricStatus.NOT_COMPARED:
            result.status, result.regressed = MetricStatus.NOT_COMPARED.value, False
            result.reason = f"{changed[name]}: {name} not compared"
        elif result.status != MetricStatus.NOT_COMPARED:
            _judge_with_interval(result, settings, suite, samples.of(name) if samples else None)
        comparisons.append(result)

    notes = list(comparability_notes)
    notes += [f"{reason}: {name} not compared" for name, reason in changed.items()]
    warnings = na_rate_warnings(current_run)
    for comparison in comparisons:
        if comparison.average is None and comparison.metric not in current_metrics:
            warnings.append(f"{comparison.metric} was in the baseline run {baseline_id} but not in this run.")
        if comparison.status == MetricStatus.POSSIBLE_REGRESSION:
            warnings.append(f"{comparison.metric}: possible regression: {comparison.reason}.")
    warnings += _unmatched_warnings(samples, baseline_id)
    only_run, only_baseline = samples.matching.unmatched(max_record_changes) if samples else ([], [])
    only_run_count, only_baseline_count = _unmatched_counts(samples)
    changes = record_changes or RecordChanges()
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
        record_changes=changes.worsened[:max_record_changes],
        na_transitions=changes.transitions[:max_record_changes],
        worsened_count=changes.worsened_count,
        na_transition_count=changes.transition_count,
        only_in_run=only_run,
        only_in_baseline=only_baseline,
        only_in_run_count=only_run_count,
        only_in_baseline_count=only_baseline_count,
        comparability_notes=notes,
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


def _judge_with_interval(
    result: MetricComparison, settings: RegressionSettings, suite: Suite, samples: MetricSamples | None
) -> None:
    """Add the interval of the change to a compared metric and, for ``method: bootstrap``, judge by it.

    The threshold rule (already applied) stands for ``method: threshold``, and for ``bootstrap``
    when the scores of the records are not at hand (the reason says so).
    """
    name = result.metric
    tolerance, own = settings.tolerance_for(name)
    scale = metric_scale(name) if suite.is_builtin(name) else 1.0
    result.tolerance = tolerance if own else tolerance * scale
    result.method = settings.method.value
    change = _interval(samples, settings.min_pairs) if samples is not None else None
    if samples is not None:
        result.pairs = len(samples.differences)
        result.only_in_run, result.only_in_baseline = samples.only_current, samples.only_baseline
    if change is not None:
        result.change, result.change_low, result.change_high = change.mean, change.low, change.high
        result.paired = change.paired
        result.min_detectable_drop = change.detectable(result.tolerance)
    if settings.method is RegressionMethod.THRESHOLD:
        return
    if change is None:
        # No record scores (or too few to spread): the limits judged; their reason names them.
        result.method = RegressionMethod.THRESHOLD.value
        return
    _judge_by_interval(result, change, settings.min_pairs)


def _interval(samples: MetricSamples, min_pairs: int) -> Change | None:
    if len(samples.differences) >= min_pairs:
        return paired_change(samples.differences)
    if len(samples.current) >= 2 and len(samples.baseline) >= 2:
        return unpaired_change(samples.current, samples.baseline)
    return None


def _judge_by_interval(result: MetricComparison, change: Change, min_pairs: int) -> None:
    """REGRESSED when the whole interval lies past the tolerance the worse way; POSSIBLE_REGRESSION
    when it reaches past it only in part; IMPROVED when it lies wholly past it the better way."""
    assert result.tolerance is not None
    sign = 1.0 if result.lower_is_better else -1.0  # a drop is positive
    drop_low, drop_high = sorted((sign * change.low, sign * change.high))
    tolerance = result.tolerance
    verb = "rose" if result.lower_is_better else "dropped"
    interval = _interval_text(result, change, min_pairs)
    result.regressed = False
    if drop_low > tolerance + EPSILON:
        result.status, result.regressed = MetricStatus.REGRESSED.value, True
        result.reason = (
            f"{verb} by {sign * change.mean:.3f}, {interval}: wholly beyond the tolerance {tolerance:g}"
        )
    elif drop_high > tolerance + EPSILON and (drop_low > EPSILON or sign * change.mean > tolerance + EPSILON):
        # A drop that is real but maybe too small to matter, or large enough to matter but maybe
        # noise: neither a pass nor a fail. (An interval around 0 that merely reaches past the
        # tolerance is the noise of every comparison of few records: not worth a warning.)
        result.status = MetricStatus.POSSIBLE_REGRESSION.value
        result.reason = (
            f"changed by {change.mean:+.3f}, {interval}: it reaches past the tolerance {tolerance:g} only in "
            "part (more records would tell)"
        )
    elif drop_high < -tolerance - EPSILON:
        result.status = MetricStatus.IMPROVED.value
        result.reason = f"improved by {-sign * change.mean:.3f}, {interval}"
    else:
        result.status = MetricStatus.OK.value
        result.reason = f"changed by {change.mean:+.3f}, {interval}: within the tolerance {tolerance:g}"
    if result.lower_is_better:
        result.reason += " (lower is better)"


def interval_text(entry: MetricComparison | None) -> str:
    """``-0.250 [-0.320, -0.180]`` (``u`` after it: unpaired), ``-`` without an interval."""
    if entry is None or entry.change is None or entry.change_low is None or entry.change_high is None:
        return "-"
    unpaired = " u" if not entry.paired else ""
    return f"{entry.change:+.3f} [{entry.change_low:+.3f}, {entry.change_high:+.3f}]{unpaired}"


def _interval_text(result: MetricComparison, change: Change, min_pairs: int) -> str:
    what = (
        f"{change.pairs} pairs"
        if change.paired
        else f"unpaired: {result.pairs} pairs, {min_pairs} needed; "
        f"{result.scored} vs {result.baseline_scored} scores"
    )
    return f"95% CI {change.low:+.3f} to {change.high:+.3f} ({what})"


def _unmatched_counts(samples: ScoreSamples | None) -> tuple[int, int]:
    if samples is None:
        return 0, 0
    return samples.matching.only_current_count, samples.matching.only_baseline_count


def _unmatched_warnings(samples: ScoreSamples | None, baseline_id: str | None) -> list[str]:
    current, baseline = _unmatched_counts(samples)
    warnings = []
    if current:
        warnings.append(
            f"{current} record(s) of this run are not in the baseline run {baseline_id}: not paired."
        )
    if baseline:
        warnings.append(
            f"{baseline} record(s) of the baseline run {baseline_id} are not in this run: not paired."
        )
    return warnings


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
