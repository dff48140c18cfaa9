"""Rules for classic automated suites (``Builtin.Accuracy`` / ``Robustness`` / ``Toxicity``, no
judge model) and for the built-in prompt datasets they may name.

What the service model cannot say, from the user guide (the catalogue and its sources are in
:mod:`evalpipe.suite.metrics`):

- a classic job's ``taskType`` is ``Summarization``, ``Classification``, ``QuestionAndAnswer``
  or ``Generation`` (``General`` is the judge jobs' value, ``Custom`` has no classic metric),
  and each task type computes its own metrics (no Toxicity for Classification);
- a built-in dataset entry names ``Builtin.<X>`` in ``dataset.name``, has no
  ``datasetLocation`` and belongs to one task type; it serves only classic jobs;
- the metrics are computed on responses the job generates (Robustness even re-runs perturbed
  prompts), so a classic suite runs a model live (``inferenceConfig.models[0].bedrockModel``):
  "bring your own inference responses" is documented for judge and human jobs only
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-prompt-datasets-judge.html),
  and the automatic-evaluation pages only describe Amazon Bedrock models generating the
  responses (https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-prompt-datasets.html).

The dataset lines of a classic custom dataset are checked by
:class:`evalpipe.validation.dataset_rules.ClassicRecordRules`.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from evalpipe.suite.facts import AUTOMATED, HUMAN, DatasetEntryFacts, JobKind, SuiteFacts, dig
from evalpipe.suite.metrics import (
    BUILTIN_DATASETS,
    CLASSIC_TASK_METRICS,
    CLASSIC_TASK_TYPES,
    MetricFamily,
    builtin_dataset,
)
from evalpipe.validation.problems import Problem, Severity, path_of, show

if TYPE_CHECKING:
    from collections.abc import Iterator

CLASSIC_METRICS = MetricFamily.MODEL_CLASSIC.metrics


def check_classic(suite: dict, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    """Yield the problems of a suite's classic metrics and built-in dataset entries.

    Parameters
    ----------
    suite : dict
        The raw parsed suite.
    facts : SuiteFacts
        Its facts (``facts.job_kind`` decides whether the job is classic).
    file : str
        Named in every problem.
    """
    root = AUTOMATED if facts.has_automated else HUMAN
    if facts.job_kind is not JobKind.CLASSIC:
        for entry in facts.entries:
            if entry.builtin:
                yield _error(
                    file,
                    path_of(*root, "datasetMetricConfigs", entry.index, "dataset", "name"),
                    f"{show(entry.dataset)} is a built-in prompt dataset; those serve only classic automated "
                    f"metrics ({', '.join(sorted(CLASSIC_METRICS))}) computed without a judge model. "
                    "Drop a custom dataset for this suite, or grade the built-in one in a classic suite",
                )
        return
    yield from _live_model(suite, file)
    for entry in facts.entries:
        where = (*root, "datasetMetricConfigs", entry.index)
        yield from _task_type(entry.task_type, entry.metrics, where, file)
        if entry.builtin:
            yield from _builtin_entry(entry, where, file)


def _live_model(suite: dict, file: str) -> Iterator[Problem]:
    model = dig(suite, "inferenceConfig", "models", 0)
    if isinstance(model, dict) and "precomputedInferenceSource" in model:
        yield _error(
            file,
            "inferenceConfig.models[0].precomputedInferenceSource",
            "classic automated metrics are computed on responses the job generates (Robustness re-asks "
            "perturbed prompts), so they need a model Bedrock runs live: use "
            '{"bedrockModel": {"modelIdentifier": "<model id>"}}. Precomputed responses are graded by a '
            "judge model (Builtin.Correctness, ...) in a suite with evaluatorModelConfig",
        )


def _task_type(
    task_type: str | None, metrics: tuple[str, ...], where: tuple[str | int, ...], file: str
) -> Iterator[Problem]:
    if task_type is None:
        return  # the shape walk reports a missing or non-string taskType
    if task_type not in CLASSIC_TASK_TYPES:
        why = (
            '"General" is the task type of jobs graded by a judge model'
            if task_type == "General"
            else '"Custom" has no classic metrics'
            if task_type == "Custom"
            else "it is not a task type"
        )
        yield _error(
            file,
            path_of(*where, "taskType"),
            f"{show(task_type)}: a classic automated job computes its metrics for one of "
            f"{', '.join(CLASSIC_TASK_TYPES)}; {why}{_did_you_mean(task_type, CLASSIC_TASK_TYPES)}",
        )
        return
    offered = CLASSIC_TASK_METRICS[task_type]
    for j, metric in enumerate(metrics):
        if metric in CLASSIC_METRICS and metric not in offered:
            yield _error(
                file,
                path_of(*where, "metricNames", j),
                f"{metric} is not computed for the {task_type} task type, which offers "
                f"{', '.join(offered)} (user guide, model-evaluation-tasks)",
            )


def _builtin_entry(entry: DatasetEntryFacts, where: tuple[str | int, ...], file: str) -> Iterator[Problem]:
    name, task_type = entry.dataset or "", entry.task_type
    name_path = path_of(*where, "dataset", "name")
    known = builtin_dataset(name)
    if known is None:
        yield _error(
            file,
            name_path,
            f"{show(name)} is not a built-in prompt dataset{_did_you_mean(name, tuple(BUILTIN_DATASETS))}; "
            f"the built-in datasets are {', '.join(BUILTIN_DATASETS)}",
        )
        return
    if entry.has_location:
        yield _error(
            file,
            path_of(*where, "dataset", "datasetLocation"),
            f"{name} is a built-in dataset that Bedrock provides: remove datasetLocation (a location "
            "makes it a custom dataset; name that one differently)",
        )
    dataset_task, recommended = BUILTIN_DATASETS[known]
    if task_type is not None and task_type in CLASSIC_TASK_TYPES and task_type != dataset_task:
        yield _error(
            file,
            path_of(*where, "taskType"),
            f"{show(task_type)} does not fit {name}, a {dataset_task} dataset: set taskType to "
            f'"{dataset_task}" or choose a {task_type} dataset '
            f"({', '.join(n for n, (t, _) in BUILTIN_DATASETS.items() if t == task_type)})",
        )
        return
    for j, metric in enumerate(entry.metrics):
        if metric in CLASSIC_METRICS and metric not in recommended:
            yield Problem(
                Severity.WARNING,
                file,
                f"the user guide does not list {name} for {metric} (it is recommended for "
                f"{', '.join(recommended)}): the dataset may lack what the metric needs, e.g. reference "
                "answers for Accuracy",
                field=path_of(*where, "metricNames", j),
            )


def _did_you_mean(name: str, candidates: tuple[str, ...]) -> str:
    by_fold = {candidate.casefold(): candidate for candidate in candidates}
    if name.casefold() in by_fold:
        return f" (did you mean {by_fold[name.casefold()]!r}?)"
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _error(file: str, path: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message, field=path)
