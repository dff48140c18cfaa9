"""`pipeline.schedule` and `pipeline.polling`: the checks, the suite model and the suite rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evalpipe.run.timing import AUTOMATED_WAIT_CAP_SECONDS, STATE_MACHINE_TIMEOUT_SECONDS, Timing
from evalpipe.suite import Suite, SuiteError
from evalpipe.suite.schedule_expression import check_expression, check_timezone
from evalpipe.validation import validate_suite
from evalpipe.validation.deployment import DeploymentLimits

BUILTIN_SUITE: dict[str, Any] = {
    "evaluationConfig": {
        "automated": {
            "datasetMetricConfigs": [
                {
                    "taskType": "QuestionAndAnswer",
                    "dataset": {"name": "Builtin.BoolQ"},
                    "metricNames": ["Builtin.Accuracy"],
                },
                {
                    "taskType": "QuestionAndAnswer",
                    "dataset": {"name": "Builtin.TriviaQA"},
                    "metricNames": ["Builtin.Accuracy"],
                },
            ]
        }
    },
    "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
    "pipeline": {"schedule": {"expression": "rate(7 days)"}},
}


def _with_schedule(schedule: object) -> dict[str, Any]:
    document = copy.deepcopy(BUILTIN_SUITE)
    document["pipeline"]["schedule"] = schedule
    return document


def _problems(document: dict[str, Any]) -> list[tuple[str | None, str]]:
    report = validate_suite(
        document,
        "suites/qa.json",
        limits=DeploymentLimits(allowed_inference_models=["amazon.nova-lite-v1:0"]),
    )
    return [(p.field, p.message) for p in report.errors()]


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(7 days)",
        "cron(0 6 ? * MON *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 9 ? * 2#1 2026-2030)",
        "cron(15 10 ? * 6L *)",
        "cron(0 9 1,15 JAN,JUL ? *)",
        "at(2026-12-31T23:00:00)",
    ],
)
def test_expressions_the_scheduler_accepts_pass(expression: str) -> None:
    # Given an expression of each form / When checked / Then it passes
    assert check_expression(expression) is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("weekly", "is not a schedule expression; use 'rate(7 days)'"),
        ("rate(7 day)", "with the value 7 the unit is plural: 'rate(7 days)'"),
        ("rate(1 days)", "with the value 1 the unit is singular: 'rate(1 day)'"),
        ("rate(2 weeks)", "the unit must be minute(s), hour(s) or day(s)"),
        ("rate(0 days)", "a whole number of at least 1"),
        ("cron(0 6 ? * MON)", "a cron expression has 6 fields"),
        ("cron(0 6 * * MON *)", "one of day-of-month ('*') and day-of-week ('MON') must be '?'"),
        ("cron(0 6 ? * ? *)", "only one of day-of-month and day-of-week may be '?'"),
        ("cron(60 6 ? * MON *)", "minutes '60': values must be 0-59"),
        ("cron(0 6 ? * MON 1969)", "year '1969'"),
        ("cron(0 6 ? FOO MON *)", "month 'FOO'"),
        ("cron(0 6 ? * 3#6 *)", "n from 1 to 5"),
        ("cron(0 6 3#1 * ? *)", "'#' is only allowed in day-of-week"),
        ("cron(0/0 6 ? * MON *)", "increment after '/'"),
        ("at(2026-02-30T06:00:00)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
        (" rate(7 days)", "remove the spaces"),
        (7, "must be a schedule expression"),
    ],
)
def test_malformed_expressions_are_explained(expression: object, says: str) -> None:
    # Given a malformed expression / When checked / Then the message says what to write
    problem = check_expression(expression)
    assert problem is not None and says in problem


def test_time_zones_are_iana_names() -> None:
    # Given zone names / Then IANA names pass and abbreviations or paths do not
    assert check_timezone("UTC") is None and check_timezone("America/New_York") is None
    for bad in ("CEST", "/etc/localtime", "../UTC", "", None):
        assert "is not an IANA time zone name" in (check_timezone(bad) or "")


def test_the_model_reads_the_schedule_with_its_defaults() -> None:
    # Given a suite of built-in datasets with a schedule block
    suite = Suite.from_document("qa", _with_schedule({"expression": "cron(0 6 ? * MON *)"}))
    # Then the defaults are UTC, enabled, no flexible window
    schedule = suite.pipeline.schedule
    assert schedule is not None
    assert (schedule.timezone, schedule.enabled, schedule.flexible_window_minutes) == ("UTC", True, None)


@pytest.mark.parametrize(
    ("schedule", "field", "says"),
    [
        ({"expression": "rate(7 day)"}, "pipeline.schedule.expression", "unit is plural"),
        ({"expression": "rate(7 days)", "timezone": "Mars/Olympus"}, "pipeline.schedule.timezone", "IANA"),
        ({"expression": "rate(7 days)", "enabled": "yes"}, "pipeline.schedule.enabled", "true or false"),
        (
            {"expression": "rate(7 days)", "flexibleWindowMinutes": 2000},
            "pipeline.schedule.flexibleWindowMinutes",
            "from 1 to 1440",
        ),
        ({"expression": "rate(7 days)", "every": "monday"}, "pipeline.schedule.every", "unknown key"),
        ({"timezone": "UTC"}, "pipeline.schedule.expression", "is required"),
        ("weekly", "pipeline.schedule", "must be an object"),
    ],
)
def test_the_rules_and_the_model_refuse_a_bad_schedule_naming_the_field(
    schedule: object, field: str, says: str
) -> None:
    # Given a suite with a bad schedule block
    document = _with_schedule(schedule)
    # When validated / Then the problem names the field
    problems = _problems(document)
    assert [f for f, _ in problems] == [field], problems
    assert says in problems[0][1]
    # And the model refuses the document as well
    with pytest.raises(SuiteError):
        Suite.from_document("qa", document)


def test_a_schedule_needs_a_suite_of_built_in_datasets_only() -> None:
    # Given a schedule on a suite whose second entry is a custom dataset
    document = copy.deepcopy(BUILTIN_SUITE)
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"][1]["dataset"] = {"name": "mine"}
    # When validated / Then the schedule block is refused with the reason
    [(field, message)] = _problems(document)
    assert field == "pipeline.schedule"
    assert "every datasetMetricConfigs entry must name a built-in dataset" in message
    with pytest.raises(SuiteError, match=r"remove pipeline\.schedule"):
        Suite.from_document("qa", document)


COLLECTED_SUITE = json.loads(
    (Path(__file__).resolve().parents[2] / "examples/suites/support-assistant-collected.json").read_text()
)


def _collected_with_schedule(scenarios: str | None) -> dict[str, Any]:
    document = copy.deepcopy(COLLECTED_SUITE)
    document["pipeline"]["schedule"] = {"expression": "rate(1 day)"}
    if scenarios is None:
        del document["pipeline"]["collect"]["scenarios"]
    else:
        document["pipeline"]["collect"]["scenarios"] = scenarios
    return document


def test_a_schedule_is_allowed_on_a_suite_that_collects_from_a_scenarios_file() -> None:
    # Given the collecting example (a custom dataset) with pipeline.collect.scenarios and a schedule
    document = _collected_with_schedule("support-assistant.json")
    # When validated / Then nothing is wrong, and the model keeps both
    report = validate_suite(document, "suites/bookstore.json")
    assert [(p.field, p.message) for p in report.errors()] == []
    suite = Suite.from_document("bookstore", document)
    assert suite.pipeline.schedule is not None and suite.pipeline.collect is not None
    assert suite.pipeline.collect.scenarios == "support-assistant.json"


def test_a_schedule_on_a_collecting_suite_without_a_scenarios_file_says_to_set_one() -> None:
    # Given the collecting example with a schedule, but no pipeline.collect.scenarios
    document = _collected_with_schedule(None)
    # When validated / Then the schedule is refused, saying what would make it run
    [error] = validate_suite(document, "suites/bookstore.json").errors()
    assert error.field == "pipeline.schedule"
    assert "set pipeline.collect.scenarios to a scenarios file under scenarios/<suite>/" in error.message
    with pytest.raises(SuiteError, match=r"pipeline\.collect\.scenarios"):
        Suite.from_document("bookstore", document)


def test_a_null_schedule_is_no_schedule() -> None:
    # Given "schedule": null / Then it validates and the model has no schedule
    document = _with_schedule(None)
    assert _problems(document) == []
    assert Suite.from_document("qa", document).pipeline.schedule is None


# --- pipeline.polling -------------------------------------------------------------------------


def _with_polling(polling: object) -> dict[str, Any]:
    document = copy.deepcopy(BUILTIN_SUITE)
    document["pipeline"]["polling"] = polling
    return document


def test_polling_overrides_only_the_keys_given() -> None:
    # Given the deployment's defaults and a suite overriding the interval and the human cap
    deployment = Timing(
        poll_interval_seconds=60,
        job_timeout_seconds=86_400,
        human_poll_min_seconds=900,
        human_poll_max_seconds=21_600,
        human_job_timeout_seconds=30 * 86_400,
    )
    suite = Suite.from_document("qa", _with_polling({"intervalSeconds": 300, "humanPollMaxSeconds": 3_600}))
    # When combined
    timing = deployment.with_overrides(suite.pipeline.polling.overrides())
    # Then the two keys are the suite's and the rest the deployment's
    assert timing == Timing(
        poll_interval_seconds=300,
        job_timeout_seconds=86_400,
        human_poll_min_seconds=900,
        human_poll_max_seconds=3_600,
        human_job_timeout_seconds=30 * 86_400,
    )
    assert timing.problems() == []
    assert Timing.from_item(timing.as_item()) == timing


def test_timing_that_outlasts_the_state_machine_is_explained() -> None:
    # Given timeouts past what two polls and an hour before 35 days allow, and min above max
    timing = Timing(
        poll_interval_seconds=3_600,
        job_timeout_seconds=35 * 86_400 - 3_600,
        human_poll_min_seconds=7_200,
        human_poll_max_seconds=3_600,
        human_job_timeout_seconds=35 * 86_400 - 3_600,
    )
    # Then each problem names its key and the bound
    problems = timing.problems()
    assert [p.split(":")[0] for p in problems] == [
        "jobTimeoutSeconds",
        "humanJobTimeoutSeconds",
        "humanPollMinSeconds",
    ]
    assert f"must be at most {35 * 86_400 - 3 * 3_600}" in problems[0]


def test_a_job_timeout_leaves_two_capped_waits_before_the_state_machines_timeout() -> None:
    # Given the default interval: automated waits grow to 10 minutes, so the bound allows for two of those
    timing = Timing(
        poll_interval_seconds=60,
        job_timeout_seconds=STATE_MACHINE_TIMEOUT_SECONDS - 2 * 600 - 3_600 + 1,
        human_poll_min_seconds=900,
        human_poll_max_seconds=21_600,
        human_job_timeout_seconds=86_400,
    )
    # Then one second past it is refused, naming the longest wait
    assert timing.problems() == [
        f"jobTimeoutSeconds: {timing.job_timeout_seconds} leaves no time to stop the job: with polls up to "
        f"every 600 s it must be at most {timing.job_timeout_seconds - 1} (the state machine itself "
        "times out at 35 days)"
    ]


def test_the_domain_knows_the_state_machines_timeout() -> None:
    # Given the infrastructure's state machine timeout / Then the domain checks against the same
    from infra.settings import STATE_MACHINE_TIMEOUT_SECONDS as INFRA_TIMEOUT

    assert STATE_MACHINE_TIMEOUT_SECONDS == INFRA_TIMEOUT


@pytest.mark.parametrize("interval", [1, 30, 60, 300, 3_600])
def test_the_deployment_check_allows_for_the_same_longest_automated_wait(interval: int) -> None:
    # Given the domain's bound for a poll interval (two of its longest waits and an hour before 35 days)
    from infra.settings import PipelineSettings

    timing = Timing(
        poll_interval_seconds=interval,
        job_timeout_seconds=60,
        human_poll_min_seconds=900,
        human_poll_max_seconds=21_600,
        human_job_timeout_seconds=86_400,
    )
    latest = STATE_MACHINE_TIMEOUT_SECONDS - 2 * timing.automated_wait_cap - 3_600
    assert timing.automated_wait_cap <= max(interval, AUTOMATED_WAIT_CAP_SECONDS)
    # Then the deployment accepts the bound and refuses one second more, as the domain does
    settings = {"pollIntervalSeconds": interval}
    PipelineSettings.model_validate({**settings, "jobTimeoutSeconds": latest})
    with pytest.raises(ValueError, match=f"<= {latest}"):
        PipelineSettings.model_validate({**settings, "jobTimeoutSeconds": latest + 1})
    assert timing.model_copy(update={"job_timeout_seconds": latest}).problems() == []
    assert timing.model_copy(update={"job_timeout_seconds": latest + 1}).problems() != []


def _polls_until(timing: Timing, job_seconds: int) -> int:
    """How many polls the poll step's schedule makes of an automated job that runs ``job_seconds``."""
    elapsed, polls = timing.first_wait(human=False), 1
    while elapsed < job_seconds:
        elapsed += timing.next_wait(human=False, elapsed_seconds=elapsed)
        polls += 1
    return polls


def test_automated_polls_back_off_so_the_largest_run_fits_an_executions_history() -> None:
    # Given the deployment's default timing and the largest default run: 50 shards of 2-hour jobs
    timing = Timing(
        poll_interval_seconds=60,
        job_timeout_seconds=86_400,
        human_poll_min_seconds=900,
        human_poll_max_seconds=21_600,
        human_job_timeout_seconds=30 * 86_400,
    )
    polls = _polls_until(timing, 2 * 3_600)
    # Then a shard is polled about 22 times, not 120, and never waits more than 10 minutes
    assert 15 <= polls <= 25
    assert max(timing.next_wait(human=False, elapsed_seconds=s) for s in range(0, 86_400, 60)) == 600
    # and 50 shards at ~10 history events a poll stay well inside a Standard execution's 25,000
    assert 50 * polls * 10 < 25_000 * 0.6
    # while a short job is still polled at the configured interval
    assert timing.next_wait(human=False, elapsed_seconds=100) == 60


@pytest.mark.parametrize(
    ("polling", "field", "says"),
    [
        ({"intervalSeconds": 0}, "pipeline.polling.intervalSeconds", "from 1 to 3600"),
        ({"intervalSeconds": 30.5}, "pipeline.polling.intervalSeconds", "whole number"),
        ({"jobTimeoutSeconds": 40 * 86_400}, "pipeline.polling.jobTimeoutSeconds", "from 60 to"),
        (
            {"humanPollMinSeconds": 600, "humanPollMaxSeconds": 60},
            "pipeline.polling.humanPollMinSeconds",
            "above",
        ),
        ({"every": 60}, "pipeline.polling.every", "unknown key"),
        ([60], "pipeline.polling", "must be an object"),
    ],
)
def test_the_rules_and_the_model_refuse_bad_polling(polling: object, field: str, says: str) -> None:
    # Given a suite with a bad polling block
    document = _with_polling(polling)
    # When validated / Then the problem names the field; and the model refuses it too
    problems = _problems(document)
    assert [f for f, _ in problems] == [field], problems
    assert says in problems[0][1]
    with pytest.raises(SuiteError):
        Suite.from_document("qa", document)
