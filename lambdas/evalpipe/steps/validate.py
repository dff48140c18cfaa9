"""Validate step: claim the run, check suite and dataset, and accept or reject the run.

A run starts from a dropped dataset object or from a run request (the suite's schedule, or
``evalpipe run``); see `evalpipe.run.triggers`. Both claim the run the same way. A dropped dataset is
checked with its suite; a run request checks the suite file alone, which must name only built-in
datasets. The two kinds do not mix: a dataset dropped into a suite of built-in datasets, and a
request for a suite that needs a dataset object, are rejected (recorded and notified like every
rejection).

The suite file is read and parsed once. The dropped version of the dataset is first copied to the
run's own key (``inputs/<suite>/<run_id>/``): validation reads that copy once (the estimate measures
it on the way) and the job reads the same copy, so an upload to the same key while the run goes on
cannot change what it evaluates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalpipe.aws.objects import ObjectChanged, ObjectMissing, ObjectTooLarge
from evalpipe.dataset import iter_raw_lines
from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import PriceFileError, load_prices
from evalpipe.run.model import ProblemItem, Run, Shard, StoredObject, shard_input_key
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import (
    DatasetObject,
    RunRequest,
    RunTrigger,
    input_key,
    is_folder_marker,
    suite_key,
    trigger_from_event,
)
from evalpipe.suite import Suite, SuiteError
from evalpipe.suite.datasets import builtin_dataset_names, custom_entries, names_only_builtin_datasets
from evalpipe.suite.pipeline import MAX_JOB_RECORDS
from evalpipe.validation import (
    DeploymentLimits,
    Problem,
    Report,
    Severity,
    parse_suite,
    validate_dataset,
    validate_suite,
)
from evalpipe.validation.baseline_rules import check_pinned_baseline

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# The run item keeps the suite as evaluated; DynamoDB items stop at 400 KB.
MAX_SUITE_BYTES = 256_000
# How many problems the run item (and so the notification) lists; the count stays exact.
LISTED_PROBLEMS = 20


def validate(event: dict, ports: Ports) -> dict:
    """Claim the run of the execution's trigger and validate it before anything is submitted.

    Parameters
    ----------
    event
        The execution input: the EventBridge ``Object Created`` event of a dropped dataset, or a
        ``Run Requested`` event (``evalpipe.run.triggers.run_request_event``).
    ports
        Adapters.

    Returns
    -------
    dict
        `{run_id, suite, outcome}` with outcome VALID, REJECTED, DUPLICATE (the run was
        already claimed by an earlier delivery of the same event: nothing more happens) or IGNORED
        (an S3 folder marker under datasets/: no run, no notification); a VALID
        run adds `shards`, the numbers of its jobs (the state machine maps over them).
    """
    trigger = trigger_from_event(event, bucket=ports.settings.bucket_name)
    if isinstance(trigger, DatasetObject) and is_folder_marker(trigger.key):
        return {"run_id": None, "suite": None, "outcome": "IGNORED"}  # "Create folder", not a dataset
    run = Run.claimed_by(trigger, ports.clock())
    if not ports.runs.claim(run):
        return {"run_id": run.run_id, "suite": run.suite, "outcome": "DUPLICATE"}

    measure = DatasetMeasure()  # the estimate measures the dataset during validation's one read
    checked = _check(run, trigger, ports, measure)
    report = checked.report
    run.warnings = [ProblemItem.model_validate(p.as_dict()) for p in report.warnings()[:LISTED_PROBLEMS]]
    run.warning_count = report.warning_count
    if checked.document is None or not report.ok:
        run.status = RunStatus.REJECTED
        run.verdict = Verdict.REJECTED
        run.problems = [ProblemItem.model_validate(p.as_dict()) for p in report.errors()[:LISTED_PROBLEMS]]
        run.problem_count = report.error_count
        run.finished_at = ports.clock()
        ports.runs.save(run)
        return {"run_id": run.run_id, "suite": run.suite, "outcome": "REJECTED"}

    run.suite_document = json.dumps(checked.document, separators=(",", ":"), sort_keys=True)
    run.estimate = _estimate(checked.document, measure, trigger)
    shard_size = checked.suite.pipeline.shard_size if checked.suite else MAX_JOB_RECORDS
    run.shards = {shard.key: shard for shard in _plan_shards(run, measure.records, shard_size, ports)}
    ports.runs.save(run)
    return {
        "run_id": run.run_id,
        "suite": run.suite,
        "outcome": "VALID",
        "shards": sorted(shard.number for shard in run.shards.values()),
    }


def _plan_shards(run: Run, records: int, shard_size: int, ports: Ports) -> list[Shard]:
    """The run's jobs: the whole copy when one job takes it, else slices of ``shard_size`` lines.

    Each slice is written under the run's own inputs prefix (never under datasets/, so no run is
    triggered), in dataset order; a valid dataset has no blank line, so lines are records.
    """
    copy = run.input_dataset
    if copy is None or records <= shard_size:
        return [
            Shard(run_id=run.run_id, number=1, input_key=copy.key if copy else None, records=records or None)
        ]
    prefix = copy.key.rsplit("/", 1)[0] + "/"
    shards: list[Shard] = []
    lines: list[bytes] = []

    def flush() -> None:
        number = len(shards) + 1
        first = (number - 1) * shard_size + 1
        key = shard_input_key(prefix, number)
        ports.objects.put_bytes(key, b"".join(lines), content_type="application/jsonl")
        shards.append(
            Shard(
                run_id=run.run_id,
                number=number,
                input_key=key,
                first_line=first,
                last_line=first + len(lines) - 1,
                records=len(lines),
            )
        )
        lines.clear()

    for line in iter_raw_lines(ports.objects.iter_chunks(copy.key, version_id=copy.version_id)):
        lines.append(line.data + b"\n")
        if len(lines) == shard_size:
            flush()
    if lines:
        flush()
    return shards


@dataclass(frozen=True)
class _Checked:
    """What validation found, and the suite document when the run may go ahead."""

    report: Report
    document: dict[str, Any] | None = None
    suite: Suite | None = None


def _check(run: Run, trigger: RunTrigger, ports: Ports, measure: DatasetMeasure) -> _Checked:
    """All problems of the run: the suite file, and the dropped dataset or the run request's rules."""
    report = Report(max_listed=LISTED_PROBLEMS)
    suite_file = suite_key(trigger.suite)
    if trigger.key_problem:
        where = trigger.key if isinstance(trigger, DatasetObject) else suite_file
        report.add(Problem(Severity.ERROR, where, trigger.key_problem))
        return _Checked(report)
    suite_bytes = _read_suite(trigger, ports, report)
    if suite_bytes is None:
        return _Checked(report)
    document, problem = parse_suite(suite_bytes, suite_file)
    limits = DeploymentLimits.of(ports.settings)
    if isinstance(trigger, DatasetObject):
        if names_only_builtin_datasets(document):
            # A suite of built-in datasets has nothing to drop: say so before reading the object.
            report.add(_nothing_to_fill(trigger, document))
            return _Checked(report)
        if problem is not None:
            report.add(problem)
        else:
            report.extend(validate_suite(document, suite_file, limits=limits))
        copy = _copy_dropped_version(trigger, ports, report)
        if copy is None:
            return _Checked(report)
        run.input_dataset = copy
        # The dataset is checked even when the suite is broken: the user fixes both at once. Problems
        # name the user's key; the lines read are the copy's, which are the dropped version's.
        chunks = measure.tap(ports.objects.iter_chunks(copy.key, version_id=copy.version_id))
        report.extend(
            validate_dataset(chunks, trigger.key, suite=document, max_records=limits.max_run_records)
        )
    else:
        if problem is not None:
            report.add(problem)
            return _Checked(report)
        report.extend(validate_suite(document, suite_file, limits=limits))
        custom = custom_entries(document)
        if custom:
            report.add(_needs_a_drop(trigger, suite_file, custom[0]))
    if not report.ok or not isinstance(document, dict):
        return _Checked(report)
    return _final_check(report, trigger.suite, document, suite_file, ports)


def _read_suite(trigger: RunTrigger, ports: Ports, report: Report) -> bytes | None:
    """The suite file's bytes, or None with the reason added to ``report``."""
    suite_file = suite_key(trigger.suite)
    try:
        return ports.objects.read_bytes(suite_file, max_bytes=MAX_SUITE_BYTES)
    except ObjectMissing:
        bucket = ports.objects.bucket
        how = (
            f"before dropping datasets under datasets/{trigger.suite}/"
            if isinstance(trigger, DatasetObject)
            else "before requesting a run of it"
        )
        report.add(
            Problem(
                Severity.ERROR, suite_file, f"suite file not found: upload s3://{bucket}/{suite_file} {how}"
            )
        )
    except ObjectTooLarge:
        report.add(Problem(Severity.ERROR, suite_file, f"suite file is larger than {MAX_SUITE_BYTES} bytes"))
    return None


def _copy_dropped_version(dataset: DatasetObject, ports: Ports, report: Report) -> StoredObject | None:
    """The run's own copy of exactly the dropped version, or None with the reason in ``report``."""
    target = input_key(dataset.suite, dataset.run_id, dataset.name)
    try:
        copied = ports.objects.copy_version(dataset.key, dataset.version_id, dataset.etag, target)
    except ObjectMissing:
        report.add(
            Problem(
                Severity.ERROR,
                dataset.key,
                "the dropped version of the dataset no longer exists (deleted before the run read it): "
                "upload it again",
            )
        )
        return None
    except ObjectChanged:
        # Only a bucket without versioning gets here: the dropped content is gone, a newer upload
        # has its own run.
        report.add(
            Problem(
                Severity.ERROR,
                dataset.key,
                "the dataset was overwritten before this run could copy the dropped version; the newer "
                "upload starts its own run",
            )
        )
        return None
    return StoredObject.model_validate({**copied, "size": dataset.size})


def _nothing_to_fill(dataset: DatasetObject, document: object) -> Problem:
    names = ", ".join(builtin_dataset_names(document))
    return Problem(
        Severity.ERROR,
        dataset.key,
        f"suite {dataset.suite} names only built-in datasets ({names}), so a dropped dataset has "
        "nothing to fill: this suite runs on its schedule or "
        f"`evalpipe run --suite {dataset.suite}`. To grade your own records, give them a suite "
        "with a custom dataset entry",
    )


def _needs_a_drop(request: RunRequest, suite_file: str, entry: Any) -> Problem:
    named = f" ({entry.name!r})" if entry.name else ""
    return Problem(
        Severity.ERROR,
        suite_file,
        f"this suite names a custom dataset{named}, which only a dropped object can fill: drop a "
        f"dataset into datasets/{request.suite}/ to run it ({request.describe()} only runs suites "
        "whose datasets are all built in, such as Builtin.BoolQ)",
        field=f"{entry.path}.dataset",
    )


def _final_check(
    report: Report, suite: str, document: dict[str, Any], suite_file: str, ports: Ports
) -> _Checked:
    try:
        # The rules above passed; the model is the last word on what the pipeline can send.
        model = Suite.from_document(suite, document)
    except SuiteError as exc:
        report.add(Problem(Severity.ERROR, suite_file, str(exc)))
        return _Checked(report)
    # pipeline.polling with the deployment's values for the keys it leaves out must end every
    # job before the state machine times out.
    timing = Timing.of(ports.settings).with_overrides(model.pipeline.polling.overrides())
    for problem in timing.problems():
        key, _, message = problem.partition(": ")
        report.add(Problem(Severity.ERROR, suite_file, message, field=f"pipeline.polling.{key}"))
    pinned = model.pipeline.regression.baseline_run_id
    if pinned:  # the rule needs the pinned run from the table (validation/baseline_rules.py)
        for baseline_problem in check_pinned_baseline(model, ports.runs.get(pinned), suite_file):
            report.add(baseline_problem)
    return _Checked(report, document, model) if report.ok else _Checked(report)


def _estimate(document: dict[str, Any], measure: DatasetMeasure, trigger: RunTrigger) -> dict[str, Any]:
    """The run's pre-flight cost estimate as plain JSON (``total_usd`` is what the notification shows)."""
    if isinstance(trigger, RunRequest):
        # Built-in datasets are the service's: nothing here knows their size, so no number.
        names = ", ".join(builtin_dataset_names(document)) or "the suite's built-in datasets"
        return {
            "total_usd": None,
            "currency": "USD",
            "notes": [
                f"no dataset to measure: {names} are Bedrock's built-in datasets, whose records the "
                "pipeline does not read, so this run's cost is not estimated"
            ],
        }
    try:
        prices = load_prices()
    except PriceFileError as exc:  # a broken price file must not block a valid run
        return {"total_usd": None, "notes": [f"no estimate: {exc}"]}
    return estimate_run(document, measure, prices).as_dict()
