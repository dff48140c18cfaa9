"""Validate step: claim the run, check suite and dataset, and accept or reject the run.

A run starts from a dropped dataset object or from a run request (the suite's schedule, or
``evalpipe run``); see `evalpipe.run.triggers`. Both claim the run the same way. A dropped dataset is
checked with its suite; a run request checks the suite file alone, which must name only built-in
datasets, or collect its dataset (``pipeline.collect.scenarios``). The two kinds do not mix: a
dataset dropped into a suite of built-in datasets, and a request for a suite that needs a dataset
object, are rejected (recorded and notified like every rejection).

Collecting runs (docs/collect.md, "In the pipeline"): dropped scenarios
(``scenarios/<suite>/<name>.json``, a suite with ``pipeline.collect``), or the latest version of
``scenarios/<suite>/<pipeline.collect.scenarios>`` for a run request, are copied to the run's inputs,
read and planned in batches (outcome COLLECT, `evalpipe.collect.plan`); the state machine collects
the batches (`evalpipe.steps.collect`) and comes back with ``{"collected": {"run_id"}}``: the
batches are joined in scenario order into the run's dataset, which is then validated as a dropped
one.

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
from evalpipe.collect.plan import assemble, failure_warnings, nothing_collected, plan, read_scenarios
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
    ScenariosObject,
    collection_prefix,
    input_key,
    is_folder_marker,
    scenarios_key,
    suite_key,
    trigger_from_event,
)
from evalpipe.suite import Suite, SuiteError
from evalpipe.suite.datasets import (
    builtin_dataset_names,
    collected_scenarios_file,
    custom_entries,
    names_only_builtin_datasets,
)
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
        The execution input: the EventBridge ``Object Created`` event of a dropped dataset or
        scenarios file, or a ``Run Requested`` event (``evalpipe.run.triggers.run_request_event``);
        or ``{"collected": {"run_id": ...}}`` once the run's scenarios are collected.
    ports
        Adapters.

    Returns
    -------
    dict
        `{run_id, suite, outcome}` with outcome VALID, REJECTED, COLLECT (dropped scenarios, or a
        run request of a suite with ``pipeline.collect.scenarios``: the state machine collects
        ``batches`` first, then comes back with ``collected``), DUPLICATE
        (the run was already claimed by an earlier delivery of the same event: nothing more
        happens) or IGNORED (an S3 folder marker: no run, no notification); a VALID run adds
        `shards`, the numbers of its jobs (the state machine maps over them).
    """
    if isinstance(event.get("collected"), dict):
        return validate_collected(str(event["collected"].get("run_id")), ports)
    trigger = trigger_from_event(event, bucket=ports.settings.bucket_name)
    if isinstance(trigger, DatasetObject) and is_folder_marker(trigger.key):
        return {"run_id": None, "suite": None, "outcome": "IGNORED"}  # "Create folder", not a dataset
    run = Run.claimed_by(trigger, ports.clock())
    if not ports.runs.claim(run):
        return {"run_id": run.run_id, "suite": run.suite, "outcome": "DUPLICATE"}
    if isinstance(trigger, ScenariosObject):
        return _plan_dropped_collection(run, trigger, ports)
    if isinstance(trigger, RunRequest):
        return _run_requested(run, trigger, ports)
    return _accept_or_reject(run, trigger, ports)


def validate_collected(run_id: str, ports: Ports) -> dict:
    """The ``collected`` entry: assemble the run's collected batches into its dataset (in scenario
    order, under inputs/, so nothing re-triggers) and validate it as a dropped dataset."""
    run = ports.runs.load(run_id)
    collection = run.collection
    if collection is None:
        raise LookupError(f"run {run_id} has no collection to assemble")
    assembled = assemble(collection, ports.objects)
    key = input_key(run.suite, run.run_id, collection.dataset_name)
    ports.objects.put_bytes(key, assembled.data, content_type="application/jsonl")
    run.collection = assembled.recorded_on(collection, LISTED_PROBLEMS)
    run.input_dataset = StoredObject(bucket=ports.objects.bucket, key=key, size=len(assembled.data))
    run.status = RunStatus.VALIDATING
    trigger = run.started_by()
    source = _scenarios_source(run, trigger)
    notes = failure_warnings(assembled.failures, source)
    if not assembled.records:  # nothing to validate or evaluate: say why, scenario by scenario
        report = Report(max_listed=LISTED_PROBLEMS)
        report.add(nothing_collected(assembled.failures, source, LISTED_PROBLEMS))
        for note in notes:
            report.add(note)
        return _reject(run, report, ports)
    return _accept_or_reject(run, trigger, ports, notes=notes)


def _scenarios_source(run: Run, trigger: RunTrigger) -> str:
    """The key of the scenarios a collecting run read: the dropped file, or the one its suite names."""
    if isinstance(trigger, ScenariosObject):
        return trigger.key
    collect = run.validated_suite().pipeline.collect
    if isinstance(trigger, RunRequest) and collect is not None and collect.scenarios is not None:
        return scenarios_key(run.suite, collect.scenarios)
    raise LookupError(f"run {run.run_id} was started neither by dropped scenarios nor to collect them")


def _accept_or_reject(
    run: Run,
    trigger: RunTrigger,
    ports: Ports,
    *,
    notes: list[Problem] | None = None,
    parsed: tuple[object, Problem | None] | None = None,
) -> dict:
    """Validate the run's suite and dataset (or run request), then record it VALID or REJECTED.
    ``parsed``: the suite file as `parse_suite` gave it, when the caller has read it already."""
    measure = DatasetMeasure()  # the estimate measures the dataset during validation's one read
    checked = _check(run, trigger, ports, measure, parsed)
    report = checked.report
    for note in notes or ():
        report.add(note)
    if checked.document is None or not report.ok:
        return _reject(run, report, ports)
    _record_warnings(run, report)

    run.suite_document = json.dumps(checked.document, separators=(",", ":"), sort_keys=True)
    run.estimate = _estimate(checked.document, measure, measured=run.input_dataset is not None)
    shard_size = checked.suite.pipeline.shard_size if checked.suite else MAX_JOB_RECORDS
    run.shards = {shard.key: shard for shard in _plan_shards(run, measure.records, shard_size, ports)}
    ports.runs.save(run)
    return {
        "run_id": run.run_id,
        "suite": run.suite,
        "outcome": "VALID",
        "shards": sorted(shard.number for shard in run.shards.values()),
    }


def _record_warnings(run: Run, report: Report) -> None:
    run.warnings = [ProblemItem.model_validate(p.as_dict()) for p in report.warnings()[:LISTED_PROBLEMS]]
    run.warning_count = report.warning_count


def _reject(run: Run, report: Report, ports: Ports) -> dict:
    run.status = RunStatus.REJECTED
    run.verdict = Verdict.REJECTED
    run.problems = [ProblemItem.model_validate(p.as_dict()) for p in report.errors()[:LISTED_PROBLEMS]]
    run.problem_count = report.error_count
    _record_warnings(run, report)
    run.finished_at = ports.clock()
    ports.runs.save(run)
    return {"run_id": run.run_id, "suite": run.suite, "outcome": "REJECTED"}


def _plan_dropped_collection(run: Run, scenarios: ScenariosObject, ports: Ports) -> dict:
    """Dropped scenarios: check the suite (it must have ``pipeline.collect``), copy the dropped
    version to the run's inputs, read the scenarios and plan the batches the state machine collects."""
    report = Report(max_listed=LISTED_PROBLEMS)
    document = _suite_of_dropped_scenarios(scenarios, ports, report)
    suite = _collecting_suite(run, scenarios.suite, document, ports, report) if document is not None else None
    if suite is None or suite.pipeline.collect is None:
        return _reject(run, report, ports)
    target = f"{collection_prefix(run.suite, run.run_id)}{scenarios.name}.scenarios.json"
    copy = _copy_dropped_version(scenarios, ports, report, target=target)
    if copy is None:
        return _reject(run, report, ports)
    return _plan_batches(run, suite.pipeline.collect.batch_size, copy, scenarios.key, ports, report=report)


def _run_requested(run: Run, request: RunRequest, ports: Ports) -> dict:
    """A run request: a suite that collects from ``pipeline.collect.scenarios`` plans its collection
    from the file's latest version; any other suite is validated as a request (built-in datasets)."""
    if request.key_problem:
        return _accept_or_reject(run, request, ports)  # which names the problem
    report = Report(max_listed=LISTED_PROBLEMS)
    suite_bytes = _read_suite(request, ports, report)
    if suite_bytes is None:
        return _reject(run, report, ports)
    suite_file = suite_key(request.suite)
    document, problem = parse_suite(suite_bytes, suite_file)
    file_name = collected_scenarios_file(document) if problem is None else None
    if file_name is None or not isinstance(document, dict):
        return _accept_or_reject(run, request, ports, parsed=(document, problem))
    suite = _collecting_suite(run, request.suite, document, ports, report)
    if suite is None or suite.pipeline.collect is None:
        return _reject(run, report, ports)
    key = scenarios_key(request.suite, file_name)
    target = f"{collection_prefix(run.suite, run.run_id)}{file_name.removesuffix('.json')}.scenarios.json"
    copy = _copy_latest_scenarios(key, ports, report, target=target)
    if copy is None:
        return _reject(run, report, ports)
    return _plan_batches(run, suite.pipeline.collect.batch_size, copy, key, ports, report=report)


def _plan_batches(
    run: Run, batch_size: int, copy: StoredObject, named: str, ports: Ports, *, report: Report
) -> dict:
    """Read the run's copy of the scenarios (problems name ``named``, the user's key) and record the
    plan: status COLLECTING, outcome COLLECT with the batches the state machine maps over."""
    found, problems = read_scenarios(ports.objects, copy, named)
    if problems:
        for problem in problems:
            report.add(problem)
        return _reject(run, report, ports)
    run.collection = plan(
        len(found),
        batch_size,
        input_key=copy.key,
        prefix=collection_prefix(run.suite, run.run_id),
        dataset_name=named.rsplit("/", 1)[-1].removesuffix(".json"),
    )
    run.status = RunStatus.COLLECTING
    ports.runs.save(run)
    return {
        "run_id": run.run_id,
        "suite": run.suite,
        "outcome": "COLLECT",
        "batches": list(range(1, run.collection.batches + 1)),
    }


def _suite_of_dropped_scenarios(
    scenarios: ScenariosObject, ports: Ports, report: Report
) -> dict[str, Any] | None:
    """The parsed suite of dropped scenarios, when it has ``pipeline.collect``; else None, with why."""
    suite_file = suite_key(scenarios.suite)
    if scenarios.key_problem:
        report.add(Problem(Severity.ERROR, scenarios.key, scenarios.key_problem))
        return None
    suite_bytes = _read_suite(scenarios, ports, report)
    if suite_bytes is None:
        return None
    document, problem = parse_suite(suite_bytes, suite_file)
    if problem is not None or not isinstance(document, dict):
        report.add(problem or Problem(Severity.ERROR, suite_file, "must be a JSON object"))
        return None
    pipeline = document.get("pipeline")
    if not isinstance(pipeline, dict) or "collect" not in pipeline:
        report.add(
            Problem(
                Severity.ERROR,
                suite_file,
                f"scenarios were dropped under scenarios/{scenarios.suite}/, but the suite has no "
                "pipeline.collect saying what to collect them from: add pipeline.collect with a target "
                "(docs/collect.md), or collect with `evalpipe collect` and drop the dataset under "
                f"datasets/{scenarios.suite}/",
                field="pipeline.collect",
            )
        )
        return None
    return document


def _collecting_suite(
    run: Run, suite: str, document: dict[str, Any], ports: Ports, report: Report
) -> Suite | None:
    """The valid suite of a collecting run (recorded as the run's suite document), or None with the
    reasons in ``report``."""
    suite_file = suite_key(suite)
    report.extend(validate_suite(document, suite_file, limits=DeploymentLimits.of(ports.settings)))
    if not report.ok:
        return None
    checked = _final_check(report, suite, document, suite_file, ports)
    if checked.suite is None:
        return None
    run.suite_document = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return checked.suite


def _copy_latest_scenarios(key: str, ports: Ports, report: Report, *, target: str) -> StoredObject | None:
    """The run's own copy of the latest version of the scenarios file at ``key`` (a run request's),
    or None with the reason in ``report``."""
    bucket = ports.objects.bucket
    try:
        head = ports.objects.head(key)
        copied = ports.objects.copy_version(key, head.get("VersionId"), head.get("ETag"), target)
    except ObjectMissing:
        report.add(
            Problem(
                Severity.ERROR,
                key,
                f"scenarios file not found: this suite collects each requested run's dataset from it "
                f"(pipeline.collect.scenarios); upload s3://{bucket}/{key}, or name an uploaded file in "
                "pipeline.collect.scenarios",
            )
        )
        return None
    except ObjectChanged:
        report.add(
            Problem(
                Severity.ERROR,
                key,
                "the scenarios file was overwritten while this run copied it; its upload starts a run of "
                "its own, and the next requested run reads it",
            )
        )
        return None
    return StoredObject.model_validate({**copied, "size": head.get("ContentLength")})


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


def _check(
    run: Run,
    trigger: RunTrigger,
    ports: Ports,
    measure: DatasetMeasure,
    parsed: tuple[object, Problem | None] | None = None,
) -> _Checked:
    """All problems of the run: the suite file, and the run's dataset (dropped or collected) or the
    run request's rules."""
    report = Report(max_listed=LISTED_PROBLEMS)
    suite_file = suite_key(trigger.suite)
    if trigger.key_problem:
        where = trigger.key if isinstance(trigger, DatasetObject) else suite_file
        report.add(Problem(Severity.ERROR, where, trigger.key_problem))
        return _Checked(report)
    if parsed is None:
        suite_bytes = _read_suite(trigger, ports, report)
        if suite_bytes is None:
            return _Checked(report)
        parsed = parse_suite(suite_bytes, suite_file)
    document, problem = parsed
    limits = DeploymentLimits.of(ports.settings)
    if isinstance(trigger, DatasetObject) or run.collection is not None:
        if not _check_dataset(run, trigger, (document, problem), measure, ports, report=report):
            return _Checked(report)
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


def _check_dataset(
    run: Run,
    trigger: RunTrigger,
    parsed: tuple[object, Problem | None],
    measure: DatasetMeasure,
    ports: Ports,
    *,
    report: Report,
) -> bool:
    """The suite's and the dataset's problems of a run with a dataset: a dropped one, copied first, or
    the one its collection assembled. False when there is no dataset to read."""
    document, problem = parsed
    suite_file = suite_key(trigger.suite)
    limits = DeploymentLimits.of(ports.settings)
    if isinstance(trigger, DatasetObject) and names_only_builtin_datasets(document):
        # A suite of built-in datasets has nothing to drop: say so before reading the object.
        report.add(_nothing_to_fill(trigger, document))
        return False
    if problem is not None:
        report.add(problem)
    else:
        report.extend(validate_suite(document, suite_file, limits=limits))
    # Collected scenarios are assembled into the run's copy already.
    copy = run.input_dataset
    if copy is None and isinstance(trigger, DatasetObject):
        copy = _copy_dropped_version(trigger, ports, report)
    if copy is None:
        return False
    run.input_dataset = copy
    # The dataset is checked even when the suite is broken: the user fixes both at once. Problems
    # name the user's key; the lines read are the copy's, which are the dropped version's.
    chunks = measure.tap(ports.objects.iter_chunks(copy.key, version_id=copy.version_id))
    # Collected records are named by the run's dataset (the scenarios file has no lines).
    named = trigger.key if isinstance(trigger, DatasetObject) and run.collection is None else copy.key
    report.extend(validate_dataset(chunks, named, suite=document, max_records=limits.max_run_records))
    return True


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


def _copy_dropped_version(
    dataset: DatasetObject, ports: Ports, report: Report, *, target: str | None = None
) -> StoredObject | None:
    """The run's own copy of exactly the dropped version, or None with the reason in ``report``."""
    target = target or input_key(dataset.suite, dataset.run_id, dataset.name)
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
        f"dataset into datasets/{request.suite}/ to run it, or set pipeline.collect.scenarios so that "
        f"each requested run collects it from scenarios/{request.suite}/ (docs/collect.md) "
        f"({request.describe()} only runs suites whose datasets are all built in, such as Builtin.BoolQ, "
        "or that collect their dataset)",
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


def _estimate(document: dict[str, Any], measure: DatasetMeasure, *, measured: bool) -> dict[str, Any]:
    """The run's pre-flight cost estimate as plain JSON (``total_usd`` is what the notification shows);
    ``measured``: the run has a dataset (dropped or collected), which validation measured."""
    if not measured:
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
