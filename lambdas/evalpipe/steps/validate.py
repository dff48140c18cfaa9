"""Validate step: claim the run, check suite and dataset, and accept or reject the run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evalpipe.aws.objects import ObjectMissing, ObjectTooLarge
from evalpipe.estimate import DatasetMeasure, PriceFileError, estimate_run, load_prices
from evalpipe.runs import DatasetObject, RunStatus, Verdict, iso, suite_key
from evalpipe.suite import Suite, SuiteError
from evalpipe.validation import Problem, Report, Severity, parse_suite, validate_run

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# The run item keeps the suite as evaluated; DynamoDB items stop at 400 KB.
MAX_SUITE_BYTES = 256_000
# How many problems the run item (and so the notification) lists; the count stays exact.
LISTED_PROBLEMS = 20


def validate(event: dict, ports: Ports) -> dict:
    """Claim the run for the dropped object and validate it before anything is submitted.

    Parameters
    ----------
    event
        The EventBridge `Object Created` event that started the execution.
    ports
        Adapters.

    Returns
    -------
    dict
        `{run_id, suite, outcome}` with outcome VALID, REJECTED or DUPLICATE (the run was
        already claimed by an earlier delivery of the same event: nothing more happens).
    """
    dataset = DatasetObject.from_event(event)
    run_id, suite = dataset.run_id, dataset.suite
    created = ports.runs.claim_run(
        {
            "run_id": run_id,
            "suite": suite,
            "status": RunStatus.VALIDATING.value,
            "created_at": iso(ports.clock()),
            "dataset": dataset.as_item(),
            "client_token": dataset.client_request_token,
        }
    )
    if not created:
        return {"run_id": run_id, "suite": suite, "outcome": "DUPLICATE"}

    measure = DatasetMeasure()  # the estimate measures the dataset during validation's one read
    report, suite_document = _check(dataset, ports, measure)
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
        estimate=_estimate(suite_document, measure),
        warnings=[p.as_dict() for p in report.warnings()[:LISTED_PROBLEMS]],
        warning_count=report.warning_count,
    )
    return {"run_id": run_id, "suite": suite, "outcome": "VALID"}


def _check(
    dataset: DatasetObject, ports: Ports, measure: DatasetMeasure | None = None
) -> tuple[Report, str | None]:
    """All problems of this run; the suite document (as JSON text) when it is usable."""
    report = Report(max_listed=LISTED_PROBLEMS)
    if dataset.key_problem:
        report.add(Problem(Severity.ERROR, dataset.key, dataset.key_problem))
        return report, None

    suite_file = suite_key(dataset.suite)
    try:
        suite_bytes = ports.objects.read_bytes(suite_file, max_bytes=MAX_SUITE_BYTES)
    except ObjectMissing:
        report.add(
            Problem(
                Severity.ERROR,
                suite_file,
                f"suite file not found: upload s3://{dataset.bucket}/{suite_file} "
                f"before dropping datasets under datasets/{dataset.suite}/",
            )
        )
        return report, None
    except ObjectTooLarge:
        report.add(Problem(Severity.ERROR, suite_file, f"suite file is larger than {MAX_SUITE_BYTES} bytes"))
        return report, None

    chunks = ports.objects.iter_chunks(dataset.key, version_id=dataset.version_id)
    if measure is not None:
        chunks = measure.tap(chunks)
    report.extend(
        validate_run(
            suite_bytes,
            suite_file,
            chunks,
            dataset.key,
            allowed_evaluator_models=ports.settings.allowed_evaluator_models,
            allowed_inference_models=ports.settings.allowed_inference_models,
        )
    )
    if not report.ok:
        return report, None

    # Read the suite the way validation did (strict JSON), so both see the same document.
    document, _ = parse_suite(suite_bytes, suite_file)
    try:
        # The rules above passed; the model is the last word on what the pipeline can send.
        Suite.from_document(dataset.suite, document)
    except SuiteError as exc:
        report.add(Problem(Severity.ERROR, suite_file, str(exc)))
        return report, None
    return report, json.dumps(document, separators=(",", ":"), sort_keys=True)


def _estimate(suite_document: str | None, measure: DatasetMeasure) -> dict:
    """The run's pre-flight cost estimate as plain JSON (``total_usd`` is what the notification shows)."""
    try:
        prices = load_prices()
    except PriceFileError as exc:  # a broken price file must not block a valid run
        return {"total_usd": None, "notes": [f"no estimate: {exc}"]}
    suite = json.loads(suite_document) if suite_document else None
    return estimate_run(suite, measure, prices).as_dict()
