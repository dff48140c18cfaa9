"""Validate step: claim the run, check suite and dataset, and accept or reject the run.

A run starts from a dropped dataset object or from a run request (the suite's schedule, or
``evalpipe run``); see `evalpipe.run.triggers`. Both claim the run the same way. A dropped dataset is
checked with its suite; a run request checks the suite file alone, which must name only built-in
datasets. The two kinds do not mix: a dataset dropped into a suite of built-in datasets, and a
request for a suite that needs a dataset object, are rejected (recorded and notified like every
rejection).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalpipe.aws.objects import ObjectMissing, ObjectTooLarge
from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import PriceFileError, load_prices
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import (
    DatasetObject,
    RunRequest,
    RunStatus,
    RunTrigger,
    Verdict,
    iso,
    suite_key,
    trigger_from_event,
)
from evalpipe.suite import Suite, SuiteError
from evalpipe.suite.datasets import builtin_dataset_names, custom_entries, names_only_builtin_datasets
from evalpipe.validation import (
    ExternalSourcesAccess,
    Problem,
    Report,
    Severity,
    parse_suite,
    validate_run,
    validate_suite,
)

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
        `{run_id, suite, outcome}` with outcome VALID, REJECTED or DUPLICATE (the run was
        already claimed by an earlier delivery of the same event: nothing more happens).
    """
    trigger = trigger_from_event(event, bucket=ports.settings.bucket_name)
    run_id, suite = trigger.run_id, trigger.suite
    created = ports.runs.claim_run(
        {
            "run_id": run_id,
            "suite": suite,
            "status": RunStatus.VALIDATING.value,
            "created_at": iso(ports.clock()),
            "trigger": trigger.kind.value,
            trigger.item_key: trigger.as_item(),
            "client_token": trigger.client_request_token,
        }
    )
    if not created:
        return {"run_id": run_id, "suite": suite, "outcome": "DUPLICATE"}

    measure = DatasetMeasure()  # the estimate measures the dataset during validation's one read
    if isinstance(trigger, RunRequest):
        report, suite_document = _check_request(trigger, ports)
    else:
        report, suite_document = _check(trigger, ports, measure)
    if not report.ok:
        ports.runs.update_run(
            run_id,
            status=RunStatus.REJECTED.value,
            verdict=Verdict.REJECTED.value,
            problems=[p.as_dict() for p in report.errors()[:LISTED_PROBLEMS]],
            problem_count=report.error_count,
            warnings=[p.as_dict() for p in report.warnings()[:LISTED_PROBLEMS]],
            warning_count=report.warning_count,
            finished_at=iso(ports.clock()),
        )
        return {"run_id": run_id, "suite": suite, "outcome": "REJECTED"}

    ports.runs.update_run(
        run_id,
        suite_document=suite_document,
        estimate=_estimate(suite_document, measure, trigger),
        warnings=[p.as_dict() for p in report.warnings()[:LISTED_PROBLEMS]],
        warning_count=report.warning_count,
    )
    return {"run_id": run_id, "suite": suite, "outcome": "VALID"}


def _deployment_limits(ports: Ports) -> dict[str, Any]:
    """What the deployment allows (models, knowledge bases, sources): the rules' keyword arguments."""
    settings = ports.settings
    return {
        "allowed_evaluator_models": settings.allowed_evaluator_models,
        "allowed_inference_models": settings.allowed_inference_models,
        "allowed_knowledge_bases": settings.allowed_knowledge_bases,
        "external_sources": ExternalSourcesAccess(settings.allow_external_sources, settings.bucket_name),
    }


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


def _check(
    dataset: DatasetObject, ports: Ports, measure: DatasetMeasure | None = None
) -> tuple[Report, str | None]:
    """All problems of a dropped dataset's run; the suite document (as JSON text) when it is usable."""
    report = Report(max_listed=LISTED_PROBLEMS)
    if dataset.key_problem:
        report.add(Problem(Severity.ERROR, dataset.key, dataset.key_problem))
        return report, None

    suite_file = suite_key(dataset.suite)
    suite_bytes = _read_suite(dataset, ports, report)
    if suite_bytes is None:
        return report, None

    # A suite of built-in datasets has nothing to drop: say so before reading the object as its data.
    parsed, _ = parse_suite(suite_bytes, suite_file)
    if names_only_builtin_datasets(parsed):
        names = ", ".join(builtin_dataset_names(parsed))
        report.add(
            Problem(
                Severity.ERROR,
                dataset.key,
                f"suite {dataset.suite} names only built-in datasets ({names}), so a dropped dataset has "
                "nothing to fill: this suite runs on its schedule or "
                f"`evalpipe run --suite {dataset.suite}`. To grade your own records, give them a suite "
                "with a custom dataset entry",
            )
        )
        return report, None

    chunks = ports.objects.iter_chunks(dataset.key, version_id=dataset.version_id)
    if measure is not None:
        chunks = measure.tap(chunks)
    report.extend(validate_run(suite_bytes, suite_file, chunks, dataset.key, **_deployment_limits(ports)))
    if not report.ok:
        return report, None
    return _final_check(report, dataset.suite, suite_bytes, suite_file, ports)


def _check_request(request: RunRequest, ports: Ports) -> tuple[Report, str | None]:
    """All problems of a requested run: the suite file alone, which must name only built-in datasets."""
    report = Report(max_listed=LISTED_PROBLEMS)
    if request.key_problem:
        report.add(Problem(Severity.ERROR, suite_key(request.suite), request.key_problem))
        return report, None
    suite_file = suite_key(request.suite)
    suite_bytes = _read_suite(request, ports, report)
    if suite_bytes is None:
        return report, None
    parsed, problem = parse_suite(suite_bytes, suite_file)
    if problem is not None:
        report.add(problem)
        return report, None
    report.extend(validate_suite(parsed, suite_file, **_deployment_limits(ports)))
    custom = custom_entries(parsed)
    if custom:
        entry = custom[0]
        named = f" ({entry.name!r})" if entry.name else ""
        report.add(
            Problem(
                Severity.ERROR,
                suite_file,
                f"this suite names a custom dataset{named}, which only a dropped object can fill: drop a "
                f"dataset into datasets/{request.suite}/ to run it ({request.describe()} only runs suites "
                "whose datasets are all built in, such as Builtin.BoolQ)",
                field=f"{entry.path}.dataset",
            )
        )
    if not report.ok:
        return report, None
    return _final_check(report, request.suite, suite_bytes, suite_file, ports)


def _final_check(
    report: Report, suite: str, suite_bytes: bytes, suite_file: str, ports: Ports
) -> tuple[Report, str | None]:
    # Read the suite the way validation did (strict JSON), so both see the same document.
    document, _ = parse_suite(suite_bytes, suite_file)
    try:
        # The rules above passed; the model is the last word on what the pipeline can send.
        model = Suite.from_document(suite, document)
    except SuiteError as exc:
        report.add(Problem(Severity.ERROR, suite_file, str(exc)))
        return report, None
    # pipeline.polling with the deployment's values for the keys it leaves out must end every
    # job before the state machine times out.
    timing = Timing.of(ports.settings).with_overrides(model.pipeline.polling.overrides())
    for problem in timing.problems():
        key, _, message = problem.partition(": ")
        report.add(Problem(Severity.ERROR, suite_file, message, field=f"pipeline.polling.{key}"))
    if not report.ok:
        return report, None
    return report, json.dumps(document, separators=(",", ":"), sort_keys=True)


def _estimate(suite_document: str | None, measure: DatasetMeasure, trigger: RunTrigger) -> dict:
    """The run's pre-flight cost estimate as plain JSON (``total_usd`` is what the notification shows)."""
    suite = json.loads(suite_document) if suite_document else None
    if isinstance(trigger, RunRequest):
        # Built-in datasets are the service's: nothing here knows their size, so no number.
        names = ", ".join(builtin_dataset_names(suite)) or "the suite's built-in datasets"
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
    return estimate_run(suite, measure, prices).as_dict()
