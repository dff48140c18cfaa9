"""End to end in the local mode: a suite of built-in datasets runs on its schedule, or on `evalpipe run`;
so does a suite that collects its dataset on each run from a scenarios file (``pipeline.collect.scenarios``).

Uploading ``suites/qa-builtin-weekly.json`` makes SyncSchedules create the schedule (read back
through the scheduler API). moto's scheduler never fires schedules, so the test fires it the way
EventBridge Scheduler would (``LocalDeployment.fire_schedule``: the schedule's own target input,
context attributes replaced, delivered to its target). The run goes through the same state machine
as a dataset drop, on Bedrock's built-in datasets (the emulator's small synthetic samples).
"""

from __future__ import annotations

import json

import pytest

from evalpipe.cli import main
from evalpipe.run.triggers import RunRequest
from local.demo import EXAMPLES
from tests.e2e.scenario import DROP_TIMEOUT, ended, given_cli_for, given_suite, when_dataset_dropped

pytestmark = pytest.mark.slow

SUITE = "qa-builtin-weekly"
DATASETS = ("Builtin.BoolQ", "Builtin.TriviaQA")
COLLECTING = "support-assistant-collected"
SCENARIOS = EXAMPLES / "scenarios" / "support-assistant.json"


def test_an_uploaded_suite_gets_a_schedule_whose_run_completes_on_both_built_in_datasets(stack):
    # Given the scheduled example uploaded as a user would
    given_suite(stack, SUITE)

    # Then SyncSchedules created its schedule: weekly, starting the state machine as the scheduler role
    schedule = stack.wait_for_schedule(SUITE)
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("cron(0 6 ? * MON *)", "ENABLED")
    assert schedule["Target"]["Arn"] == stack.state_machine_arn
    assert ":role/" in schedule["Target"]["RoleArn"]
    assert json.loads(schedule["Target"]["Input"])["detail"] == {
        "suite": SUITE,
        "requestedBy": "schedule",
        "scheduleArn": "<aws.scheduler.schedule-arn>",
    }

    # When the schedule fires
    fired = stack.fire_schedule(SUITE, scheduled_time="2026-03-02T06:00:00Z")
    scheduled = ended(stack, SUITE, fired["execution_arn"], timeout=180)

    # Then the execution succeeded and the run COMPLETED under the scheduled run's identity
    assert scheduled.status == "SUCCEEDED", scheduled.description.get("cause")
    run_id = scheduled.run_id
    assert run_id == RunRequest.from_event(json.loads(fired["input"])).run_id
    item = scheduled.run
    assert (item.status, item.trigger) == ("COMPLETED", "schedule")
    assert item.request.schedule_arn == schedule["Arn"]

    # And the records come from both built-in datasets (one output file each)
    files = scheduled.output_files()
    lines = [len(scheduled.output_lines(key)) for key in files]
    assert [next(name for name in DATASETS if f"/datasets/{name}/" in key) for key in files] == list(DATASETS)
    assert item.record_count == sum(lines) > 0
    assert all(count > 0 for count in lines)
    assert len(scheduled.records) == item.record_count

    # And the subscriber got exactly one notification, naming the scheduled trigger
    message = scheduled.message()
    assert "scheduled run (scheduled for 2026-03-02T06:00:00Z)" in message["body"]
    assert "Builtin.BoolQ, Builtin.TriviaQA (built in)" in message["body"]

    # When the scheduler delivers the same scheduled time again (a retry of that invocation)
    again = stack.fire_schedule(SUITE, scheduled_time="2026-03-02T06:00:00Z")
    repeat = ended(stack, SUITE, again["execution_arn"], timeout=60)

    # Then it is the same run, claimed already: the execution ends at Duplicate, nothing is notified
    assert repeat.status == "SUCCEEDED"
    assert repeat.output["run"] == {"run_id": run_id, "suite": SUITE, "outcome": "DUPLICATE"}
    assert repeat.states()[-1] == "Duplicate"
    assert repeat.messages(wait=2) == []


def test_evalpipe_run_starts_a_run_of_the_suite(stack, monkeypatch, capsys):
    # Given the suite uploaded, and the CLI pointed at the local endpoint (as a user's AWS_ENDPOINT_URL)
    given_suite(stack, SUITE)
    name = given_cli_for(stack, monkeypatch)

    # When `evalpipe run --suite qa-builtin-weekly --wait`
    code = main(["run", "--suite", SUITE, "--stack", name, "--wait", "--timeout", "180", "--interval", "0.5"])
    out, err = capsys.readouterr()

    # Then the run it started finished, and `show --wait` style output reads as its notification
    assert code == 0, err
    run_id = out.splitlines()[0].split()[2]
    assert out.splitlines()[0] == f"Started run {run_id} of suite {SUITE} (manual run by evalpipe run)"
    item = stack.run(run_id)
    assert (item.status, item.trigger) == ("COMPLETED", "cli")
    assert "Trigger:" in out and "manual run by evalpipe run" in out
    # And the execution is named after the run (it may still be finishing its Notify state)
    arn = stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"
    assert ended(stack, SUITE, arn, timeout=60).status == "SUCCEEDED"


def test_a_dataset_dropped_into_the_built_in_suite_is_rejected(stack):
    # Given the scheduled example uploaded
    suite = given_suite(stack, SUITE)

    # When a user drops a dataset under datasets/qa-builtin-weekly/
    body = b'{"prompt": "Is the sky blue?", "referenceResponse": "yes"}\n'
    dropped = when_dataset_dropped(stack, suite, "mine.jsonl", body)

    # Then the run is REJECTED, telling them how this suite runs, and they are notified once
    assert dropped.status == "SUCCEEDED"
    item = dropped.run
    assert (item.status, item.verdict) == ("REJECTED", "REJECTED")
    [problem] = item.problems
    assert f"this suite runs on its schedule or `evalpipe run --suite {SUITE}`" in problem.message
    assert dropped.message()["attributes"]["verdict"] == "REJECTED"


def test_deleting_the_suite_file_removes_its_schedule(stack):
    # Given the suite uploaded and its schedule created
    suite = given_suite(stack, SUITE)
    stack.wait_for_schedule(SUITE)

    # When the suite file is deleted (a delete marker: the bucket is versioned)
    stack.client("s3").delete_object(Bucket=stack.bucket, Key=suite.key)

    # Then SyncSchedules deleted the schedule
    assert stack.wait_for_schedule(SUITE, present=False) is None


def test_a_scheduled_suite_that_collects_runs_on_its_latest_scenarios_and_notifies_once(stack):
    # Given the collecting example on a nightly schedule (pipeline.collect.scenarios names the file)
    document = json.loads((EXAMPLES / "suites" / f"{COLLECTING}.json").read_text())
    document["pipeline"]["schedule"] = {"expression": "cron(0 2 * * ? *)"}
    suite = given_suite(stack, COLLECTING, as_name="bookstore-nightly", document=document)
    stack.wait_for_schedule(suite.name)
    key = f"scenarios/{suite.name}/{document['pipeline']['collect']['scenarios']}"

    # When the schedule fires before anyone uploaded the scenarios file
    fired = stack.fire_schedule(suite.name, scheduled_time="2026-03-02T02:00:00Z")
    missing = ended(stack, suite.name, fired["execution_arn"], timeout=60)

    # Then that run is REJECTED, and its one notification names the missing key
    assert missing.status == "SUCCEEDED", missing.description.get("cause")
    assert missing.run is not None
    assert (missing.run.status, missing.run.trigger) == ("REJECTED", "schedule")
    [problem] = missing.run.problems
    assert (problem.file, problem.message.split(":")[0]) == (key, "scenarios file not found")
    assert key in " ".join(missing.message()["body"].split())

    # When the scenarios file is uploaded (that drop is a run of its own) and the schedule fires again
    stack.upload(SCENARIOS, key)
    dropped = stack.execution_for(key)
    fired = stack.fire_schedule(suite.name, scheduled_time="2026-03-03T02:00:00Z")
    scheduled = ended(stack, suite.name, fired["execution_arn"], timeout=DROP_TIMEOUT * 2)

    # Then the scheduled run collected every scenario of the file through the Map, and completed
    assert scheduled.status == "SUCCEEDED", scheduled.description.get("cause")
    assert scheduled.run_id == RunRequest.from_event(json.loads(fired["input"])).run_id
    states = scheduled.states()
    assert states.count("CollectBatch") == 2 and "ValidateCollected" in states and "Parse" in states
    run = scheduled.run
    assert run is not None
    assert (run.status, run.trigger, run.dataset) == ("COMPLETED", "schedule", None)
    assert run.collection is not None
    assert (run.collection.scenarios, run.collection.collected, run.collection.failed) == (7, 7, 0)
    assert run.record_count == 7 and len(scheduled.records) == 7
    assert run.input_dataset is not None
    assert run.input_dataset.key == f"inputs/{suite.name}/{run.run_id}/support-assistant.jsonl"
    # And the results were matched against the collected dataset, line for line
    assert run.coverage is not None and run.coverage.complete
    assert (run.coverage.expected, run.coverage.parsed) == (7, 7)
    job = scheduled.job()
    assert job["jobName"] == run.run_id

    # And the drop's own run completed too; each run notified exactly once
    drop = ended(stack, suite.name, dropped, timeout=DROP_TIMEOUT * 2)
    assert drop.status == "SUCCEEDED" and drop.run is not None and drop.run.trigger == "scenarios"
    messages = stack.messages(wait=10, count=2)
    by_run = {
        run_id: [m for m in messages if m["attributes"].get("run_id") == run_id]
        for run_id in (run.run_id, drop.run_id)
    }
    assert [len(found) for found in by_run.values()] == [1, 1], messages
    [message] = by_run[run.run_id]
    assert message["attributes"]["verdict"] == run.verdict
    body = message["body"]
    assert "scheduled run (scheduled for 2026-03-03T02:00:00Z)" in body
    assert f"s3://{stack.bucket}/{key}" in body
