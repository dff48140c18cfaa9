"""Pre-flight validation of suites and datasets: nothing reaches CreateEvaluationJob unless it
would run as the user meant.

Every function here accepts arbitrary input and never raises on it; what is wrong comes back
as :class:`Problem` entries of a :class:`Report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.dataset import iter_raw_lines
from evalpipe.suite.facts import SuiteFacts
from evalpipe.validation.dataset_rules import rules_for, scan_dataset
from evalpipe.validation.deployment import (
    DEFAULT_MAX_RUN_RECORDS,
    NO_LIMITS,
    DeploymentLimits,
    ExternalSourcesAccess,
)
from evalpipe.validation.problems import Problem, Report, Severity
from evalpipe.validation.strict_json import LONE_SURROGATE, parse_strict
from evalpipe.validation.suite_rules import check_suite

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DeploymentLimits",
    "ExternalSourcesAccess",
    "Problem",
    "Report",
    "Severity",
    "validate_dataset",
    "validate_run",
    "validate_suite",
]


def validate_suite(
    suite: object,
    file: str,
    *,
    suite_name: str | None = None,
    limits: DeploymentLimits = NO_LIMITS,
) -> Report:
    """Check a parsed suite file.

    Parameters
    ----------
    suite : object
        The suite file's parsed JSON (any value).
    file : str
        How problems name the file, e.g. ``suites/support.json``.
    suite_name : str, optional
        The suite's name; checked against the naming rule when given.
    limits : DeploymentLimits, optional
        The models, knowledge bases and sources the deployment's Bedrock role may use; by
        default nothing is checked against a deployment.

    Returns
    -------
    Report
        ``report.ok`` is False when the suite must not be submitted.

    Examples
    --------
    >>> report = validate_suite({"applicationType": "ModelEvaluation"}, "suites/demo.json")
    >>> report.ok
    False
    >>> print(report.problems[0].render())
    suites/demo.json: evaluationConfig: error: is required (the CreateEvaluationJob request member)
    """
    report = Report()
    for problem in check_suite(suite, file, suite_name=suite_name, limits=limits):
        report.add(problem)
    return report


def validate_dataset(
    chunks: Iterable[bytes],
    file: str,
    *,
    suite: object | None = None,
    max_listed: int = 50,
    max_records: int = DEFAULT_MAX_RUN_RECORDS,
) -> Report:
    """Check a JSONL dataset while streaming it (memory stays flat whatever the file size).

    Parameters
    ----------
    chunks : Iterable[bytes]
        The file's bytes in chunks of any size (e.g. an S3 body's ``iter_chunks()``).
    file : str
        How problems name the file, e.g. ``datasets/support/nightly.jsonl``.
    suite : object, optional
        The parsed suite. When it is an object, it decides the record kind (precomputed
        responses, live prompts, RAG turns), the ``modelIdentifier`` every line must carry and
        which metrics need a ``referenceResponse``. Otherwise records are checked as
        precomputed responses and their identifiers against the first line's.
    max_listed : int, default 50
        Problems kept in the report; all are counted.
    max_records : int, default 50,000
        The largest dataset a run takes (the deployment's; larger than one job: it is sharded).

    Returns
    -------
    Report

    Examples
    --------
    >>> line = b'{"prompt": "hi", "modelResponses": [{"response": "hello", "modelIdentifier": "app-v1"}]}'
    >>> validate_dataset([line + b"\\n"], "d.jsonl").summary_line()
    '0 errors, 0 warnings'
    """
    facts = SuiteFacts.from_suite(suite) if isinstance(suite, dict) else None
    return scan_dataset(iter_raw_lines(chunks), file, rules_for(facts, file), max_listed, max_records)


def validate_run(
    suite_bytes: bytes,
    suite_file: str,
    dataset_chunks: Iterable[bytes],
    dataset_file: str,
    *,
    limits: DeploymentLimits = NO_LIMITS,
    max_listed: int = 50,
) -> Report:
    """Check a suite file's bytes and a dataset together, as ``evalpipe validate`` does.

    Parameters
    ----------
    suite_bytes : bytes
        The suite file as stored (UTF-8 JSON).
    suite_file, dataset_file : str
        How problems name the two files.
    dataset_chunks : Iterable[bytes]
        The dataset's bytes in chunks.
    limits : DeploymentLimits, optional
        See :func:`validate_suite`.
    max_listed : int, default 50
        Problems kept in the report; all are counted.

    Returns
    -------
    Report
        Suite problems first, then dataset problems. The dataset is always checked; the rules
        that depend on the suite apply only when the suite parsed to an object.
    """
    report = Report(max_listed)
    suite, problem = parse_suite(suite_bytes, suite_file)
    if problem is not None:
        report.add(problem)
    else:
        report.extend(validate_suite(suite, suite_file, limits=limits))
    report.extend(
        validate_dataset(
            dataset_chunks,
            dataset_file,
            suite=suite,
            max_listed=max_listed,
            max_records=limits.max_run_records,
        )
    )
    return report


def parse_suite(data: bytes, file: str) -> tuple[object, Problem | None]:
    """Parse a suite file's bytes strictly: UTF-8, standard JSON, no duplicated keys.

    Returns
    -------
    tuple
        ``(suite, None)``, or ``(None, problem)`` when the file cannot be read as meant.
    """
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, _file_error(
            file, f"bytes that are not UTF-8 at byte offset {exc.start}; save the file as UTF-8"
        )
    parsed = parse_strict(text)
    if parsed.error is not None:
        return None, _file_error(file, f"not valid JSON: {parsed.error}")
    if parsed.duplicate_keys:
        keys = ", ".join(map(repr, parsed.duplicate_keys))
        return None, _file_error(
            file, f"key(s) {keys} appear twice in one object; JSON readers keep only the last: remove one"
        )
    if parsed.lone_surrogate_at is not None:
        return None, Problem(Severity.ERROR, file, LONE_SURROGATE, field=parsed.lone_surrogate_at or None)
    return parsed.value, None


def _file_error(file: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message)
