"""The body block of each outcome other than a graded run -- the job failed, was stopped or timed
out, the run was rejected (its problems), the pipeline itself failed (the error and what to check)
-- and the note that opens a completed human job; `_problem_line` renders one validation problem
for the rejection and the warnings.
"""

from __future__ import annotations

from collections.abc import Mapping

from evalpipe.notification.layout import _bullet, _one_line
from evalpipe.notification.run_item import (
    _bucket,
    _int,
    _mapping,
    _problem_count,
    _request,
    _sequence,
    _text,
)
from evalpipe.run.triggers import results_prefix

MAX_PROBLEMS_SHOWN = 20

# What to check after a pipeline error, by the error name Step Functions recorded.
_ERROR_HINTS: dict[str, str] = {
    "BedrockRejected": (
        "Bedrock refused the request. Check the suite file (metric names, evaluator model, "
        "inference source identifier), the Bedrock service role and model access in this region."
    ),
    "BedrockThrottled": (
        "Bedrock kept throttling (or the evaluation job quota was reached) after all retries. "
        "Wait for running jobs to finish, then upload the dataset again."
    ),
    "BedrockUnavailable": (
        "Bedrock kept failing with server errors after all retries. Upload the dataset again later."
    ),
    "States.Timeout": "A state ran longer than its timeout.",
    "States.TaskFailed": "A task failed; the execution history names the state and the cause.",
}


def _human_done(run: Mapping) -> list[str]:
    """A completed human job: the work is done, when, and where the ratings are."""
    bucket = _bucket(run)
    suite, run_id = _text(run.get("suite")), _text(run.get("run_id"))
    lines = [
        "Human evaluation: your work team has finished rating this job.",
        f"  Work done:   {_text(run.get('job_finished_at')) or _text(run.get('finished_at'))}",
    ]
    if bucket and suite and run_id:
        lines.append(f"  Ratings:     s3://{bucket}/{results_prefix(suite, run_id)} (*_output.jsonl)")
    report = _text(run.get("report_key"))
    if report and bucket:
        lines.append(f"  Report:      s3://{bucket}/{report}")
    lines.extend(
        _bullet(
            "Scores below are human ratings scaled to 0-1: thumbs up = 1, thumbs down = 0, a Likert "
            "rating r of 1..5 = (r - 1) / 4. Comparison ratings are kept in the job output, not averaged.",
            marker="  ",
        )
    )
    return lines


def _failed(run: Mapping) -> list[str]:
    messages = [_text(m) for m in _sequence(run.get("failure_messages")) if _text(m)]
    lines = ["Bedrock reported the job as Failed."]
    if not messages:
        return [*lines, "It gave no failure message; open the job in the Bedrock console."]
    lines.append("Failure messages:")
    for message in messages:
        lines.extend(_bullet(message))
    return lines


def _stopped(run: Mapping) -> list[str]:
    lines = [
        "Someone stopped the evaluation job (console, CLI or API) before it finished;",
        "the pipeline did not parse any results for this run.",
    ]
    messages = [_text(m) for m in _sequence(run.get("failure_messages")) if _text(m)]
    if messages:
        lines.append("Messages from Bedrock:")
        for message in messages:
            lines.extend(_bullet(message))
    return lines


def _timed_out(run: Mapping) -> list[str]:
    deadline = _text(run.get("deadline"))
    lines = [
        "The job was still running at its deadline"
        + (f" ({deadline})" if deadline else "")
        + ", so the pipeline stopped it.",
        "No results were parsed. Jobs usually take 5-15 minutes for 30-50 records; a long queue",
        "or a large dataset may need a longer JOB_TIMEOUT_SECONDS.",
    ]
    return lines


def _rejected(run: Mapping) -> list[str]:
    problems = list(_sequence(run.get("problems")))[:MAX_PROBLEMS_SHOWN]
    total = max(_problem_count(run), len(problems))
    lines = [f"Problems ({total})"]
    for problem in problems:
        lines.extend(_bullet(_problem_line(problem), marker=""))
    if total > len(problems):
        lines.append(f"  ... and {total - len(problems)} more")
    again = (
        f"request the run again (evalpipe run --suite {_text(run.get('suite'))})"
        if _request(run)
        else "upload the dataset again"
    )
    lines += ["", f"Nothing was submitted. Fix the problems and {again}."]
    return lines


def _error(run: Mapping) -> list[str]:
    error = _mapping(run.get("error"))
    error_type = _text(error.get("type")) or "unknown error"
    message = _text(error.get("message"))
    lines = [f"Error: {error_type}"]
    if message:
        # The cause may be long or JSON; wrap it but keep it whole up to the reason limit.
        lines.extend(_bullet(_one_line(message, 1500), marker=""))
    hint = _ERROR_HINTS.get(error_type)
    lines += ["", "What to check:"]
    if hint:
        lines.extend(_bullet(hint))
    lines.extend(
        _bullet(
            "The state machine execution of this run (Step Functions console, search the executions "
            "for the run id): its history names the failed state and the full cause."
        )
    )
    lines.extend(_bullet("The function's CloudWatch logs (service evalpipe) around the finish time."))
    if run.get("job_arn"):
        lines.extend(_bullet("Whether the Bedrock job (Job ARN above) is still running or finished."))
    return lines


def _problem_line(problem: object) -> str:
    """`FILE:LINE: FIELD: message` for dataset lines, `FILE: field: message` for the suite file."""
    if not isinstance(problem, Mapping):
        return _text(problem)
    where = _text(problem.get("file")) or "?"
    if problem.get("line") is not None:
        where += f":{_int(problem.get('line'))}"
    parts = [where]
    if _text(problem.get("field")):
        parts.append(_text(problem.get("field")))
    parts.append(_one_line(_text(problem.get("message")), 500))
    return ": ".join(parts)
