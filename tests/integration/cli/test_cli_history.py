"""`evalpipe runs / show / compare / report` against moto, on runs parsed by the real steps.

The stack lookup is replaced by the test's bucket and table, except in the tests of the lookup
itself, which deploy a tiny CloudFormation stack exposing the same outputs.
"""

from __future__ import annotations

import json

import boto3
import pytest

from evalpipe.cli import _stack, main
from evalpipe.cli._stack import StackError, StackOutputs, lookup_outputs
from evalpipe.steps.parse import parse
from tests.integration.steps.flow import (
    RECORDS,
    REGRESSED_SCORES,
    REGRESSION_SUITE,
    baseline_and_regressed,
    completed,
    output_line,
    rejected_run_of_another_suite,
    submitted,
    write_outputs,
)


@pytest.fixture
def deployment(monkeypatch, ports, dynamodb_table, bucket, sns_topic):
    """The CLI finds the test's bucket and table as the stack's outputs."""
    outputs = StackOutputs("BedrockEvalPipeline", bucket, dynamodb_table.name, sns_topic, None)
    monkeypatch.setattr(_stack, "lookup_outputs", lambda name, session: outputs)
    monkeypatch.delenv(_stack.STACK_ENV, raising=False)
    return outputs


@pytest.fixture
def history(deployment, ports, bedrock, bucket, put, dropped, clock):
    """A baseline run and a regressed run of suite smoke, and a rejected run of suite other."""
    baseline, current = baseline_and_regressed(ports, bedrock, bucket, put, dropped, clock)
    other = rejected_run_of_another_suite(ports, dropped, clock)
    return {"baseline": baseline, "current": current, "other": other}


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- runs ---------------------------------------------------------------------------------------


def test_runs_of_a_suite_newest_first(history, capsys):
    code, out, err = cli(capsys, "runs", "--suite", "smoke")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Runs of smoke (newest first)"
    assert lines[1].split() == [
        "Created",
        "(UTC)",
        "Run",
        "id",
        "Status",
        "Verdict",
        "Records",
        "Low",
        "Baseline",
    ]
    assert lines[3].split() == [
        "2026-11-23",
        "20:00:05",
        history["current"],
        "COMPLETED",
        "REGRESSED",
        "3",
        "2",
        history["baseline"].removeprefix("smoke-"),
    ]
    assert lines[4].split() == [
        "2026-11-23",
        "19:00:05",
        history["baseline"],
        "COMPLETED",
        "PASSED",
        "3",
        "0",
        "-",
    ]
    assert len(lines) == 5


def test_runs_without_a_suite_lists_each_suites_latest_run(history, capsys):
    code, out, _ = cli(capsys, "runs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Latest run of each suite (2)"
    assert [line.split()[:2] for line in lines[3:]] == [["other", "2026-11-23"], ["smoke", "2026-11-23"]]
    assert lines[3].split()[3:6] == [history["other"], "REJECTED", "REJECTED"]
    assert lines[4].split()[3] == history["current"]


def test_runs_json_and_limit(history, capsys):
    code, out, _ = cli(capsys, "runs", "--suite", "smoke", "--limit", "1", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "suite": "smoke",
            "run_id": history["current"],
            "created_at": "2026-11-23T20:00:05+00:00",
            "status": "COMPLETED",
            "verdict": "REGRESSED",
            "record_count": 3,
            "low_count": 2,
            "baseline_run_id": history["baseline"],
            "regressed_metrics": ["Builtin.Helpfulness", "confirmation_check"],
        }
    ]


def test_runs_of_an_unknown_suite_exit_1(history, capsys):
    code, out, err = cli(capsys, "runs", "--suite", "nope", "--json")
    assert (code, json.loads(out)) == (1, [])
    assert "no runs of suite nope" in err


# --- show ---------------------------------------------------------------------------------------


def test_show_prints_the_run_as_its_notification_reads(history, capsys, bucket):
    code, out, err = cli(capsys, "show", history["current"])
    assert code == 0, err
    assert out.startswith("Verdict: REGRESSED — 2 metrics regressed against the baseline run")
    assert f"Baseline:  {history['baseline']}" in out
    assert "vs baseline" in out
    assert "Prompts that got worse (4 scores in 3 records, worst first)" in out
    # the CLI knows its region, so the console links are there
    assert "https://us-east-1.console.aws.amazon.com/s3/object/" in out


def test_show_json_is_the_run_item(history, capsys):
    code, out, _ = cli(capsys, "show", history["current"], "--json")
    item = json.loads(out)
    assert code == 0
    assert (item["run_id"], item["verdict"]) == (history["current"], "REGRESSED")
    assert item["comparison"]["baseline_run_id"] == history["baseline"]


def test_show_an_unknown_run_exit_1(deployment, capsys):
    code, out, err = cli(capsys, "show", "smoke-20260101-000000-00000000")
    assert (code, out) == (1, "")
    assert "run smoke-20260101-000000-00000000 not found in evalpipe-runs-test" in err


def test_show_wait_polls_until_the_run_is_reviewed(
    deployment, ports, bedrock, bucket, put, dropped, capsys, monkeypatch
):
    # Given a submitted run whose job is still running
    event = dropped(suite=REGRESSION_SUITE)
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(put, run_id, [output_line(RECORDS[i], s) for i, s in enumerate(REGRESSED_SCORES)])
    completed(ports, bedrock, run_id)
    sleeps = []

    def job_finishes_while_we_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            parse(run_id, ports)

    monkeypatch.setattr("time.sleep", job_finishes_while_we_sleep)

    # When shown with --wait
    code, out, err = cli(capsys, "show", run_id, "--wait", "--interval", "5", "--timeout", "600")

    # Then it polled until the parse step had reviewed the run, then printed it
    assert code == 0, err
    assert sleeps == [5, 5]
    assert out.startswith("Verdict: LOW SCORES")
    assert f"waiting for {run_id}: SUBMITTED (timeout 600s)" in err


def test_show_wait_times_out_with_exit_1(deployment, ports, bedrock, bucket, dropped, capsys, monkeypatch):
    run_id = submitted(ports, bedrock, bucket, dropped())
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    code, out, err = cli(capsys, "show", run_id, "--wait", "--timeout", "0")
    assert code == 1
    assert out.startswith("Status: SUBMITTED — the run has not finished")
    assert f"run {run_id} is still SUBMITTED after 0s" in err


# --- compare ------------------------------------------------------------------------------------


def test_compare_judges_run_b_against_run_a(history, capsys):
    code, out, err = cli(capsys, "compare", history["baseline"], history["current"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "REGRESSED: 2 metrics regressed (Builtin.Helpfulness, confirmation_check)"
    assert lines[2].startswith(f"Run:      {history['current']} (2026-11-23 20:00:05 UTC, REGRESSED)")
    helpfulness = next(line for line in lines if line.startswith("  Builtin.Helpfulness "))
    assert helpfulness.split()[:4] == [
        "Builtin.Helpfulness",
        "0.917",
        "0.583",
        "-0.333",
    ]  # baseline, this run, delta
    assert helpfulness.split()[-1] == "REGRESSED"
    assert '[Builtin.Helpfulness] 1.00 -> 0.25 (-0.75) | "Where is my order 123?"' in lines
    assert "Scores that became N/A or stopped being N/A (1)" in lines


def test_compare_the_other_way_round_finds_no_regression(history, capsys):
    code, out, _ = cli(capsys, "compare", history["current"], history["baseline"])
    assert code == 0
    assert out.splitlines()[0] == "No metric regressed."


def test_compare_json_keeps_every_change(history, capsys):
    code, out, _ = cli(capsys, "compare", history["baseline"], history["current"], "--json")
    document = json.loads(out)
    assert code == 0
    assert document["regressed"] is True
    assert document["regressed_metrics"] == ["Builtin.Helpfulness", "confirmation_check"]
    changes = document["comparison"]["record_changes"]
    assert [(c["metric"], c["index"], c["baseline_score"], c["score"]) for c in changes] == [
        ("confirmation_check", 0, 1.0, 0.0),
        ("Builtin.Helpfulness", 0, 1.0, 0.25),
        ("Builtin.Correctness", 1, 1.0, 0.75),
        ("Builtin.Helpfulness", 2, 0.75, 0.5),
    ]


def test_compare_limit_lists_fewer_and_counts_the_rest(history, capsys):
    code, out, _ = cli(capsys, "compare", history["baseline"], history["current"], "--limit", "1")
    assert code == 0
    assert "Prompts that got worse (worst 1 of 4 scores that dropped)" in out
    assert "  ... and 3 more: --limit 0 lists them all." in out


def test_compare_runs_of_different_suites_is_a_usage_error(history, capsys):
    code, _, err = cli(capsys, "compare", history["other"], history["current"])
    assert code == 2
    assert "only runs of one suite compare" in err


def test_compare_with_a_run_without_scores_exit_1(history, deployment, ports, capsys):
    code, _, err = cli(capsys, "compare", history["baseline"], "smoke-20260101-000000-00000000")
    assert code == 1 and "not found" in err
    baseline = ports.runs.load(history["baseline"])
    baseline.metrics = {}
    ports.runs.save(baseline)
    code, _, err = cli(capsys, "compare", history["baseline"], history["current"])
    assert code == 1
    assert f"run {history['baseline']} has no scores to compare" in err


# --- report -------------------------------------------------------------------------------------


def test_report_downloads_the_page_the_parse_step_wrote(history, capsys, tmp_path, s3_client, bucket):
    target = tmp_path / "page.html"
    code, _, err = cli(capsys, "report", history["current"], "--output", str(target))
    key = f"reports/smoke/{history['current']}.html"
    assert code == 0, err
    assert target.read_bytes() == s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert err.strip() == f"wrote {target} (s3://{bucket}/{key})"


def test_report_is_rendered_locally_when_the_bucket_has_none(
    history, capsys, tmp_path, s3_client, bucket, monkeypatch
):
    # Given a run whose report object is gone, and a browser that records what it opens
    key = f"reports/smoke/{history['current']}.html"
    s3_client.delete_object(Bucket=bucket, Key=key)
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    monkeypatch.chdir(tmp_path)

    # When the report is asked for and opened
    code, _, err = cli(capsys, "report", history["current"], "--open")

    # Then it is rendered from the table into ./RUN.html and opened
    page = tmp_path / f"{history['current']}.html"
    assert code == 0, err
    assert "rendered locally" in err
    assert "REGRESSED" in page.read_text() and history["baseline"] in page.read_text()
    assert opened == [page.resolve().as_uri()]


def test_report_to_stdout(history, capsys):
    code, out, _ = cli(capsys, "report", history["baseline"], "-o", "-")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")


def test_report_of_an_unknown_run_exit_1(deployment, capsys):
    code, _, err = cli(capsys, "report", "smoke-20260101-000000-00000000")
    assert code == 1 and "not found" in err


# --- the stack lookup itself ---------------------------------------------------------------------


def _stack_template(bucket: str, table: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "marker"}}},
            "Outputs": {
                "BucketName": {"Value": bucket},
                "RunsTableName": {"Value": table},
                "TopicArn": {"Value": topic_arn},
                "StateMachineArn": {"Value": "arn:aws:states:us-east-1:123456789012:stateMachine:evalpipe"},
            },
        }
    )


def test_lookup_reads_the_stacks_outputs(mocked_aws):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="MyEvals", TemplateBody=_stack_template("b", "t", "arn:topic"))

    outputs = lookup_outputs("MyEvals", boto3.session.Session(region_name="us-east-1"))

    assert outputs == StackOutputs(
        "MyEvals", "b", "t", "arn:topic", "arn:aws:states:us-east-1:123456789012:stateMachine:evalpipe"
    )


def test_lookup_of_a_missing_stack_or_output_names_the_problem(mocked_aws):
    session = boto3.session.Session(region_name="us-east-1")
    with pytest.raises(StackError, match="stack Nope not found in us-east-1"):
        lookup_outputs("Nope", session)
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="Other",
        TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}),
    )
    with pytest.raises(StackError, match="stack Other has no output BucketName, RunsTableName"):
        lookup_outputs("Other", session)


def test_the_cli_finds_the_deployment_through_cloudformation(
    ports, bedrock, bucket, put, dropped, clock, dynamodb_table, sns_topic, capsys, monkeypatch
):
    # Given runs in the table, and a stack (named by the environment) whose outputs point at it
    baseline_and_regressed(ports, bedrock, bucket, put, dropped, clock)
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="MyEvals", TemplateBody=_stack_template(bucket, dynamodb_table.name, sns_topic)
    )
    monkeypatch.setenv(_stack.STACK_ENV, "MyEvals")

    # When / Then the CLI lists them without being told where the table is
    code, out, err = cli(capsys, "runs", "--json")
    assert code == 0, err
    assert [row["suite"] for row in json.loads(out)] == ["smoke"]
    # and a stack that is not there is an error naming it
    code, _, err = cli(capsys, "runs", "--stack", "Missing")
    assert code == 1
    assert "stack Missing not found in us-east-1" in err


def test_run_ids_as_notifications_shorten_them_are_accepted(history, capsys):
    # Given the ids the way alert subjects and `evalpipe runs` show a baseline (no suite in front)
    short_baseline = history["baseline"].removeprefix("smoke-")
    short_current = history["current"].removeprefix("smoke-")
    # When pasted into show and compare / Then they find the runs
    code, out, err = cli(capsys, "show", short_current)
    assert code == 0, err
    assert history["current"] in out
    code, out, err = cli(capsys, "compare", short_baseline, short_current)
    assert code == 0, err
    assert out.splitlines()[0].startswith("REGRESSED")
    # And an id no run ends with is still not found
    assert cli(capsys, "show", "20991231-000000-00000000")[0] == 1
