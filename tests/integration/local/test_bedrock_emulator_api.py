"""The emulated control plane through boto3 in-process (`mock_aws`): operations, errors, controls."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bedrock_emulator_support import ACCOUNT, REGION, T0

from local import bedrock_emulator

ARN = re.compile(rf"arn:aws:bedrock:{REGION}:{ACCOUNT}:evaluation-job/[a-z0-9]{{12}}")
UNKNOWN_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:evaluation-job/zzzzzzzzzzzz"


def test_create_returns_202_and_an_evaluation_job_arn(bedrock, dataset, job_request):
    # Given a dataset in S3
    dataset()

    # When a job is created
    response = bedrock.create_evaluation_job(**job_request())

    # Then the service answers 202 with an ARN of the documented shape
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert ARN.fullmatch(response["jobArn"])


def test_get_echoes_the_configuration_and_progresses_lazily(bedrock, dataset, job_request, fake_clock):
    # Given a job that takes 2 seconds
    bedrock_emulator.controls.set_delays(job_seconds=2)
    dataset()
    request = job_request()
    arn = bedrock.create_evaluation_job(**request)["jobArn"]

    # When it is read before and after the delay
    early = bedrock.get_evaluation_job(jobIdentifier=arn)
    fake_clock.advance(2)
    late = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it is InProgress, then Completed, with the request echoed and timestamps parsed
    assert early["status"] == "InProgress"
    assert late["status"] == "Completed"
    assert late["jobName"] == request["jobName"]
    assert late["jobType"] == "Automated"
    assert late["applicationType"] == "ModelEvaluation"
    assert late["evaluationConfig"] == request["evaluationConfig"]
    assert late["inferenceConfig"] == request["inferenceConfig"]
    assert late["outputDataConfig"] == request["outputDataConfig"]
    assert late["creationTime"] == datetime.fromtimestamp(T0, tz=UTC)
    assert late["lastModifiedTime"] == datetime.fromtimestamp(T0 + 2, tz=UTC)
    assert "failureMessages" not in late


def test_job_seconds_default_comes_from_the_environment(
    bedrock, dataset, job_request, fake_clock, monkeypatch
):
    # Given no delay set through the API, and EVALPIPE_EMULATOR_JOB_SECONDS=5
    bedrock_emulator.controls.job_seconds = None
    monkeypatch.setenv("EVALPIPE_EMULATOR_JOB_SECONDS", "5")
    dataset()
    arn = bedrock.create_evaluation_job(**job_request())["jobArn"]

    # When 4 and then 5 seconds have passed
    fake_clock.advance(4)
    at_four = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]
    fake_clock.advance(1)
    at_five = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]

    # Then the job completes at 5 seconds
    assert (at_four, at_five) == ("InProgress", "Completed")


def test_get_unknown_job_raises_resource_not_found(bedrock):
    # Given no job; When an unknown ARN is read; Then ResourceNotFoundException (404)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as error:
        bedrock.get_evaluation_job(jobIdentifier=UNKNOWN_ARN)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _create_jobs(
    bedrock: Any, job_request: Any, fake_clock: Any, names: list[str], **extra: Any
) -> list[str]:
    arns = []
    for name in names:
        arns.append(bedrock.create_evaluation_job(**job_request(name=name, **extra))["jobArn"])
        fake_clock.advance(10)
    return arns


def test_list_sorts_by_creation_time_descending_by_default(bedrock, dataset, job_request, fake_clock):
    # Given three jobs created 10 s apart
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["job-a", "job-b", "job-c"])

    # When listed without and with sortOrder=Ascending
    default = bedrock.list_evaluation_jobs()["jobSummaries"]
    ascending = bedrock.list_evaluation_jobs(sortBy="CreationTime", sortOrder="Ascending")["jobSummaries"]

    # Then newest first by default, oldest first when asked
    assert [s["jobName"] for s in default] == ["job-c", "job-b", "job-a"]
    assert [s["jobName"] for s in ascending] == ["job-a", "job-b", "job-c"]


def test_list_summary_describes_the_job(bedrock, dataset, job_request):
    # Given one completed job
    dataset()
    arn = bedrock.create_evaluation_job(**job_request())["jobArn"]

    # When listed
    (summary,) = bedrock.list_evaluation_jobs()["jobSummaries"]

    # Then the summary carries the documented members
    assert summary["jobArn"] == arn
    assert summary["status"] == "Completed"
    assert summary["jobType"] == "Automated"
    assert summary["evaluationTaskTypes"] == ["General"]
    assert summary["evaluatorModelIdentifiers"] == ["amazon.nova-pro-v1:0"]
    assert summary["applicationType"] == "ModelEvaluation"
    model_summary = summary["inferenceConfigSummary"]["modelConfigSummary"]
    assert model_summary["precomputedInferenceSourceIdentifiers"] == ["my-app-v1"]


def test_list_filters_by_status(bedrock, dataset, job_request, fake_clock):
    # Given one completed job and one still running
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["done-job"])
    bedrock_emulator.controls.set_delays(job_seconds=1000)
    _create_jobs(bedrock, job_request, fake_clock, ["running-job"])

    # When filtered by status
    completed = bedrock.list_evaluation_jobs(statusEquals="Completed")["jobSummaries"]
    running = bedrock.list_evaluation_jobs(statusEquals="InProgress")["jobSummaries"]

    # Then each filter returns its job only
    assert [s["jobName"] for s in completed] == ["done-job"]
    assert [s["jobName"] for s in running] == ["running-job"]


def test_list_filters_by_application_type(bedrock, dataset, job_request, fake_clock):
    # Given a model-evaluation job
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["model-job"])

    # When filtered by application type
    model = bedrock.list_evaluation_jobs(applicationTypeEquals="ModelEvaluation")["jobSummaries"]
    rag = bedrock.list_evaluation_jobs(applicationTypeEquals="RagEvaluation")["jobSummaries"]

    # Then only the matching type is listed
    assert [s["jobName"] for s in model] == ["model-job"]
    assert rag == []


def test_list_filters_by_name_contains(bedrock, dataset, job_request, fake_clock):
    # Given jobs of two suites
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["alpha-1", "beta-1", "alpha-2"])

    # When filtered by a name fragment
    summaries = bedrock.list_evaluation_jobs(nameContains="alpha")["jobSummaries"]

    # Then only names containing it are listed
    assert [s["jobName"] for s in summaries] == ["alpha-2", "alpha-1"]


def test_list_filters_by_creation_time_window(bedrock, dataset, job_request, fake_clock):
    # Given jobs created at T0, T0+10 and T0+20
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["first", "second", "third"])
    start = datetime.fromtimestamp(T0, tz=UTC)

    # When filtered after T0+5 and before T0+15, then both
    after = bedrock.list_evaluation_jobs(creationTimeAfter=start + timedelta(seconds=5))["jobSummaries"]
    before = bedrock.list_evaluation_jobs(creationTimeBefore=start + timedelta(seconds=15))["jobSummaries"]
    window = bedrock.list_evaluation_jobs(
        creationTimeAfter=start + timedelta(seconds=5), creationTimeBefore=start + timedelta(seconds=15)
    )["jobSummaries"]

    # Then the bounds are exclusive and combine
    assert [s["jobName"] for s in after] == ["third", "second"]
    assert [s["jobName"] for s in before] == ["second", "first"]
    assert [s["jobName"] for s in window] == ["second"]


def test_list_paginates_with_max_results_and_next_token(bedrock, dataset, job_request, fake_clock):
    # Given five jobs
    dataset()
    names = [f"page-job-{i}" for i in range(5)]
    _create_jobs(bedrock, job_request, fake_clock, names)

    # When listed two at a time, following nextToken
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 2, "sortOrder": "Ascending"} | ({"nextToken": token} if token else {})
        page = bedrock.list_evaluation_jobs(**kwargs)
        seen += [s["jobName"] for s in page["jobSummaries"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break

    # Then every job comes once, in order, in three pages (the last without a token)
    assert seen == names
    assert pages == 3


def test_boto3_paginator_walks_every_page(bedrock, dataset, job_request, fake_clock):
    # Given three jobs; When boto3's paginator lists them one per page; Then it sees all three
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["p-1", "p-2", "p-3"])
    pages = bedrock.get_paginator("list_evaluation_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert [s["jobName"] for page in pages for s in page["jobSummaries"]] == ["p-3", "p-2", "p-1"]


def test_list_rejects_a_token_of_another_query(bedrock, dataset, job_request, fake_clock):
    # Given a token of an unfiltered listing
    dataset()
    _create_jobs(bedrock, job_request, fake_clock, ["t-1", "t-2"])
    token = bedrock.list_evaluation_jobs(maxResults=1)["nextToken"]

    # When it is used with another filter (or garbled); Then ValidationException
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_evaluation_jobs(maxResults=1, nextToken=token, nameContains="t")
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_evaluation_jobs(nextToken="not-a-token")


@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_max_results_outside_1_to_1000_is_rejected(raw_bedrock, max_results):
    # When maxResults is out of range; Then ValidationException names the bound
    with pytest.raises(raw_bedrock.exceptions.ValidationException, match="maxResults"):
        raw_bedrock.list_evaluation_jobs(maxResults=max_results)


def test_stop_moves_a_running_job_to_stopping_then_stopped(bedrock, dataset, job_request, fake_clock):
    # Given a long job and a 1-second stop delay
    bedrock_emulator.controls.set_delays(job_seconds=1000, stop_seconds=1)
    dataset()
    arn = bedrock.create_evaluation_job(**job_request())["jobArn"]

    # When it is stopped, and read before and after the stop delay
    bedrock.stop_evaluation_job(jobIdentifier=arn)
    stopping = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]
    fake_clock.advance(1)
    stopped = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]

    # Then Stopping, then Stopped (never Completed)
    assert (stopping, stopped) == ("Stopping", "Stopped")
    fake_clock.advance(2000)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopped"


def test_stop_a_finished_job_raises_conflict(bedrock, dataset, job_request):
    # Given a completed job; When stopped; Then ConflictException
    dataset()
    arn = bedrock.create_evaluation_job(**job_request())["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.stop_evaluation_job(jobIdentifier=arn)


def test_stop_an_unknown_job_raises_resource_not_found(bedrock):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.stop_evaluation_job(jobIdentifier=UNKNOWN_ARN)


def test_batch_delete_deletes_finished_jobs_and_reports_the_others(bedrock, dataset, job_request, fake_clock):
    # Given a completed job, a running job and an unknown ARN, and a 1-second delete delay
    bedrock_emulator.controls.set_delays(delete_seconds=1)
    dataset()
    done = bedrock.create_evaluation_job(**job_request(name="done-job"))["jobArn"]
    bedrock.get_evaluation_job(jobIdentifier=done)
    bedrock_emulator.controls.set_delays(job_seconds=1000)
    running = bedrock.create_evaluation_job(**job_request(name="running-job"))["jobArn"]

    # When the three are deleted in one batch
    response = bedrock.batch_delete_evaluation_job(jobIdentifiers=[done, running, UNKNOWN_ARN])

    # Then the completed one is Deleting, the others are errors with HTTP-like codes
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["evaluationJobs"] == [{"jobIdentifier": done, "jobStatus": "Deleting"}]
    errors = {e["jobIdentifier"]: e["code"] for e in response["errors"]}
    assert errors == {running: "400", UNKNOWN_ARN: "404"}
    assert bedrock.get_evaluation_job(jobIdentifier=done)["status"] == "Deleting"

    # And after the delete delay the job is gone, its name free again
    fake_clock.advance(1)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_evaluation_job(jobIdentifier=done)
    assert [s["jobName"] for s in bedrock.list_evaluation_jobs()["jobSummaries"]] == ["running-job"]
    assert ARN.fullmatch(bedrock.create_evaluation_job(**job_request(name="done-job"))["jobArn"])


def test_batch_delete_accepts_1_to_25_identifiers(raw_bedrock):
    # When 26 identifiers (or none) are sent; Then ValidationException
    with pytest.raises(raw_bedrock.exceptions.ValidationException, match="less than or equal to 25"):
        raw_bedrock.batch_delete_evaluation_job(jobIdentifiers=[UNKNOWN_ARN] * 26)
    with pytest.raises(raw_bedrock.exceptions.ValidationException, match="greater than or equal to 1"):
        raw_bedrock.batch_delete_evaluation_job(jobIdentifiers=[])


# -- validation -------------------------------------------------------------------------------


def test_bad_job_name_is_rejected_with_the_services_message(bedrock, job_request):
    # When the name breaks the model's pattern (botocore does not check patterns client-side)
    with pytest.raises(bedrock.exceptions.ValidationException) as error:
        bedrock.create_evaluation_job(**job_request(name="Bad_Name"))

    # Then the message is the service's, naming value, member and pattern
    assert error.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'Bad_Name' at 'jobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-z0-9](-*[a-z0-9]){0,62}"
    )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_pattern_must_match_the_whole_value(bedrock, job_request):
    # Given a name whose prefix matches the pattern; When created; Then rejected (anchored)
    with pytest.raises(bedrock.exceptions.ValidationException, match="jobName"):
        bedrock.create_evaluation_job(**job_request(name="good-prefix-then-Bad"))


def test_two_union_members_are_rejected(raw_bedrock, job_request):
    # Given an evaluationConfig with both automated and human
    request = job_request()
    automated = request["evaluationConfig"]["automated"]
    request["evaluationConfig"]["human"] = {"datasetMetricConfigs": automated["datasetMetricConfigs"]}

    # When created; Then the union is reported
    with pytest.raises(raw_bedrock.exceptions.ValidationException, match="exactly one member set"):
        raw_bedrock.create_evaluation_job(**request)


def test_missing_required_member_is_rejected(raw_bedrock, job_request):
    # Given a request without roleArn; When created; Then "must not be null"
    request = job_request()
    del request["roleArn"]
    with pytest.raises(raw_bedrock.exceptions.ValidationException, match="Value null at 'roleArn'"):
        raw_bedrock.create_evaluation_job(**request)


def test_more_than_25_metric_names_are_rejected(bedrock, job_request):
    # Given 26 metric names (botocore does not check list maximums)
    metrics = [f"metric_{i}" for i in range(26)]

    # When created; Then the list length is reported at its path
    with pytest.raises(bedrock.exceptions.ValidationException) as error:
        bedrock.create_evaluation_job(**job_request(metrics=metrics))
    message = error.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value '[metric_0, metric_1")
    assert message.endswith(
        "at 'evaluationConfig.automated.datasetMetricConfigs.1.member.metricNames' failed to satisfy "
        "constraint: Member must have length less than or equal to 25"
    )


def test_task_type_general_is_accepted_but_other_unknown_values_are_not(bedrock, dataset, job_request):
    # Given taskType "General" (accepted by the service though absent from the model's enum)
    dataset()
    assert bedrock.create_evaluation_job(**job_request())["jobArn"]

    # When another value outside the enum is sent; Then ValidationException lists the enum
    request = job_request(name="other-task")
    request["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"] = "Chat"
    with pytest.raises(bedrock.exceptions.ValidationException, match="enum value set"):
        bedrock.create_evaluation_job(**request)


def test_unknown_builtin_metric_is_rejected(bedrock, job_request):
    with pytest.raises(bedrock.exceptions.ValidationException, match=r"Builtin\.Niceness"):
        bedrock.create_evaluation_job(**job_request(metrics=["Builtin.Niceness"]))


def test_judge_metrics_without_evaluator_model_are_rejected(bedrock, job_request):
    # Given a judge metric but no evaluatorModelConfig; When created; Then ValidationException
    request = job_request()
    del request["evaluationConfig"]["automated"]["evaluatorModelConfig"]
    with pytest.raises(bedrock.exceptions.ValidationException, match="evaluatorModelConfig"):
        bedrock.create_evaluation_job(**request)


# -- conflicts, idempotency, quotas -----------------------------------------------------------


def test_duplicate_job_name_raises_conflict(bedrock, dataset, job_request):
    # Given a job; When another job with the same name is created; Then ConflictException
    dataset()
    bedrock.create_evaluation_job(**job_request())
    with pytest.raises(bedrock.exceptions.ConflictException, match="already exists"):
        bedrock.create_evaluation_job(**job_request())


def test_same_token_and_request_returns_the_same_job(bedrock, dataset, job_request):
    # Given a job created with a client request token
    dataset()
    request = job_request(clientRequestToken="a1b2c3d4")
    first = bedrock.create_evaluation_job(**request)["jobArn"]

    # When the identical request is replayed
    second = bedrock.create_evaluation_job(**request)["jobArn"]

    # Then the same ARN comes back and no second job exists
    assert second == first
    assert len(bedrock.list_evaluation_jobs()["jobSummaries"]) == 1


def test_same_token_with_a_different_request_raises_conflict(bedrock, dataset, job_request):
    # Given a job created with a token
    dataset()
    bedrock.create_evaluation_job(**job_request(clientRequestToken="a1b2c3d4"))

    # When the token comes back with another request; Then ConflictException (the documented choice)
    with pytest.raises(bedrock.exceptions.ConflictException, match="client request token"):
        bedrock.create_evaluation_job(**job_request(name="other-name", clientRequestToken="a1b2c3d4"))


def test_concurrency_quota_raises_service_quota_exceeded(bedrock, dataset, job_request):
    # Given at most one running job
    bedrock_emulator.controls.set_delays(job_seconds=1000)
    bedrock_emulator.controls.max_concurrent_jobs = 1
    dataset()
    bedrock.create_evaluation_job(**job_request(name="first"))

    # When a second job is created; Then ServiceQuotaExceededException
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException):
        bedrock.create_evaluation_job(**job_request(name="second"))


# -- injected errors and failures -------------------------------------------------------------


def test_throttle_injection_raises_throttling_then_recovers(no_retry_bedrock, dataset, job_request):
    # Given the next two creates throttle
    dataset()
    bedrock_emulator.controls.throttle_next_creates(2)

    # When three creates are sent (botocore retries off)
    for _ in range(2):
        with pytest.raises(no_retry_bedrock.exceptions.ThrottlingException) as error:
            no_retry_bedrock.create_evaluation_job(**job_request())
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    # Then the third goes through
    assert ARN.fullmatch(no_retry_bedrock.create_evaluation_job(**job_request())["jobArn"])


def test_injected_error_on_another_operation(no_retry_bedrock):
    # Given GetEvaluationJob fails once with an internal error
    bedrock_emulator.controls.inject_error("GetEvaluationJob", "InternalServerException")

    # When read; Then InternalServerException (500), and the next read is answered normally
    with pytest.raises(no_retry_bedrock.exceptions.InternalServerException):
        no_retry_bedrock.get_evaluation_job(jobIdentifier=UNKNOWN_ARN)
    with pytest.raises(no_retry_bedrock.exceptions.ResourceNotFoundException):
        no_retry_bedrock.get_evaluation_job(jobIdentifier=UNKNOWN_ARN)


def test_fail_next_job_ends_failed_with_the_given_messages(bedrock, dataset, job_request, s3_results):
    # Given the next job must fail
    dataset()
    bedrock_emulator.controls.fail_next_job(["Evaluator model throttled", "Retry the job"])

    # When it is created and read
    arn = bedrock.create_evaluation_job(**job_request(name="doomed"))["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then Failed with those messages, no results written; and the job after it completes
    assert job["status"] == "Failed"
    assert job["failureMessages"] == ["Evaluator model throttled", "Retry the job"]
    assert s3_results.keys(prefix="results/demo/doomed/") == []
    healthy = bedrock.create_evaluation_job(**job_request(name="healthy"))["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=healthy)["status"] == "Completed"


def test_fail_jobs_matching_a_name_pattern(bedrock, dataset, job_request):
    # Given jobs whose name starts with "flaky-" fail
    dataset()
    bedrock_emulator.controls.fail_jobs_matching(r"^flaky-", ["boom"])

    # When two matching jobs and one other run
    arns = {
        name: bedrock.create_evaluation_job(**job_request(name=name))["jobArn"]
        for name in ["flaky-1", "flaky-2", "solid"]
    }
    statuses = {name: bedrock.get_evaluation_job(jobIdentifier=arn)["status"] for name, arn in arns.items()}

    # Then only the matching ones fail
    assert statuses == {"flaky-1": "Failed", "flaky-2": "Failed", "solid": "Completed"}


def test_reset_forgets_jobs_and_controls(bedrock, dataset, job_request):
    # Given a job and a pending throttle
    dataset()
    bedrock.create_evaluation_job(**job_request())
    bedrock_emulator.controls.throttle_next_creates(5)

    # When the emulator is reset
    bedrock_emulator.reset()

    # Then no job is listed and creates are not throttled
    assert bedrock.list_evaluation_jobs()["jobSummaries"] == []
    bedrock_emulator.controls.set_delays(job_seconds=0)
    assert bedrock.create_evaluation_job(**job_request())["jobArn"]
