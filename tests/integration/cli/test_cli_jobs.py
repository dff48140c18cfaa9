"""`evalpipe jobs list|get|stop|delete` against the Bedrock emulator, in-process (moto + install)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from evalpipe.cli import main
from local import bedrock_emulator
from tests.builders import jsonl, judge_suite, line

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/evalpipe-bedrock"
T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
QUESTION = "What is the capital of France?"
RECORDS = [line(QUESTION, "Paris is the capital of France.", "The capital of France is Paris.")]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(mocked_aws: None) -> Iterator[Clock]:
    bedrock_emulator.install()
    bedrock_emulator.reset()
    bedrock_emulator.controls.set_delays(job_seconds=3600, stop_seconds=0, delete_seconds=0)
    fake = Clock()
    bedrock_emulator.controls.clock = fake
    yield fake
    bedrock_emulator.reset()


@pytest.fixture
def bedrock(clock: Clock) -> Any:
    return boto3.client("bedrock", region_name=REGION)


@pytest.fixture
def create(bedrock: Any, bucket: str, clock: Clock) -> Callable[..., str]:
    """Create a job one minute after the previous one; ``seconds`` = how long it runs."""
    key = "datasets/demo/golden.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=jsonl(RECORDS))

    def build(name: str, seconds: float = 3600, fail: bool = False, rag: bool = False) -> str:
        clock.now += 60
        bedrock_emulator.controls.set_delays(job_seconds=seconds)
        if fail:
            bedrock_emulator.controls.fail_next_job(["The judge model could not be invoked."])
        suite = judge_suite(
            metrics=["Builtin.Correctness"],
            custom=(),
            dataset="golden",
            dataset_location=f"s3://{bucket}/{key}",
        )
        inference = suite["inferenceConfig"]
        if rag:
            source = {"retrieveSourceConfig": {"ragSourceIdentifier": "my-kb"}}
            inference = {"ragConfigs": [{"precomputedRagSourceConfig": source}]}
        return bedrock.create_evaluation_job(
            jobName=name,
            roleArn=ROLE_ARN,
            applicationType="RagEvaluation" if rag else "ModelEvaluation",
            evaluationConfig=suite["evaluationConfig"],
            inferenceConfig=inference,
            outputDataConfig={"s3Uri": f"s3://{bucket}/results/demo/{name}/"},
        )["jobArn"]

    return build


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[str], str | None]:
    code, out, err = run(capsys, "jobs", "list", "--json", *argv)
    assert code == 0, err
    data = json.loads(out)
    return [job["jobName"] for job in data["jobs"]], data["nextToken"]


@pytest.fixture
def three_jobs(create: Callable[..., str]) -> dict[str, str]:
    """alpha-1 (Completed), beta-1 (Failed), alpha-2 (InProgress), created a minute apart."""
    arns = {
        "alpha-1": create("alpha-1", seconds=0),
        "beta-1": create("beta-1", seconds=0, fail=True),
        "alpha-2": create("alpha-2"),
    }
    return arns


# ------------------------------------------------------------------------------------- list


def test_list_table_newest_first(capsys, three_jobs):
    code, out, _ = run(capsys, "jobs", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "TYPE", "CREATED", "(UTC)", "ARN"]
    assert [line.split()[:2] for line in lines[2:]] == [
        ["alpha-2", "InProgress"],
        ["beta-1", "Failed"],
        ["alpha-1", "Completed"],
    ]
    assert three_jobs["alpha-2"] in lines[2]
    assert "nextToken" not in out


def test_list_sort_order(capsys, three_jobs):
    assert listed(capsys, "--sort-order", "Ascending")[0] == ["alpha-1", "beta-1", "alpha-2"]
    assert listed(capsys, "--sort-order", "Descending")[0] == ["alpha-2", "beta-1", "alpha-1"]


@pytest.mark.parametrize(
    ("status", "names"),
    [("Completed", ["alpha-1"]), ("Failed", ["beta-1"]), ("InProgress", ["alpha-2"]), ("Stopped", [])],
)
def test_list_status_filter(capsys, three_jobs, status, names):
    assert listed(capsys, "--status", status)[0] == names


def test_list_application_type_filter(capsys, three_jobs, create):
    create("rag-1", rag=True)
    assert listed(capsys, "--application-type", "RagEvaluation")[0] == ["rag-1"]
    assert listed(capsys, "--application-type", "ModelEvaluation")[0] == ["alpha-2", "beta-1", "alpha-1"]


def test_list_name_contains(capsys, three_jobs):
    assert listed(capsys, "--name-contains", "alpha")[0] == ["alpha-2", "alpha-1"]
    assert listed(capsys, "--name-contains", "gamma")[0] == []


def test_list_created_after_and_before(capsys, three_jobs):
    # alpha-1 at T0+60s (15:07:40Z), beta-1 at T0+120s (15:08:40Z), alpha-2 at T0+180s (15:09:40Z)
    assert listed(capsys, "--created-after", "2025-06-15T15:08:00Z")[0] == ["alpha-2", "beta-1"]
    assert listed(capsys, "--created-before", "2025-06-15T15:09:00")[0] == ["beta-1", "alpha-1"]
    both = ("--created-after", "2025-06-15T17:08:00+02:00", "--created-before", "2025-06-15T15:09:00Z")
    assert listed(capsys, *both)[0] == ["beta-1"]


def test_list_one_page_at_a_time(capsys, three_jobs):
    names, token = listed(capsys, "--max-results", "1")
    assert names == ["alpha-2"]
    assert token
    seen = list(names)
    while token:
        names, token = listed(capsys, "--max-results", "1", "--next-token", token)
        seen += names
    assert seen == ["alpha-2", "beta-1", "alpha-1"]


def test_list_table_prints_next_token(capsys, three_jobs):
    code, out, _ = run(capsys, "jobs", "list", "--max-results", "1", "--sort-order", "Ascending")
    assert code == 0
    token = out.splitlines()[-1].removeprefix("nextToken: ")
    assert out.splitlines()[-1].startswith("nextToken: ")
    code, out, _ = run(
        capsys, "jobs", "list", "--max-results", "1", "--sort-order", "Ascending", "--next-token", token
    )
    assert code == 0
    assert out.splitlines()[2].split()[0] == "beta-1"


def test_list_all_follows_tokens(capsys, three_jobs):
    names, token = listed(capsys, "--all", "--max-results", "1", "--name-contains", "a")
    assert names == ["alpha-2", "beta-1", "alpha-1"]
    assert token is None


def test_jobs_without_action_is_a_usage_error(capsys, clock):
    code, _, err = run(capsys, "jobs")
    assert code == 2
    assert "usage: evalpipe jobs" in err


def test_list_empty(capsys, clock):
    code, out, err = run(capsys, "jobs", "list")
    assert (code, out) == (0, "")
    assert "no evaluation jobs match" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-results", "0"],
        ["--max-results", "1001"],
        ["--status", "Running"],
        ["--sort-order", "up"],
        ["--created-after", "yesterday"],
        ["--name-contains", "Not_A_Name"],
        ["--all", "--next-token", "abc"],
    ],
)
def test_list_usage_errors(capsys, clock, argv):
    code, _, err = run(capsys, "jobs", "list", *argv)
    assert code == 2
    assert "error" in err


def test_list_bad_token_is_rejected(capsys, three_jobs):
    code, out, err = run(capsys, "jobs", "list", "--next-token", "bm90LWEtdG9rZW4")
    assert (code, out) == (1, "")
    assert "ListEvaluationJobs refused (ValidationException)" in err


def test_list_throttled(capsys, three_jobs):
    bedrock_emulator.controls.inject_error("ListEvaluationJobs", "ThrottlingException", count=5)
    code, _, err = run(capsys, "jobs", "list")
    assert code == 1
    assert "throttled by Bedrock" in err


# -------------------------------------------------------------------------------------- get


def test_get_by_arn_name_and_id(capsys, three_jobs):
    arn = three_jobs["beta-1"]
    for job in (arn, "beta-1", arn.rsplit("/", 1)[-1]):
        code, out, err = run(capsys, "jobs", "get", job)
        assert code == 0, err
        assert out.splitlines()[0].split() == ["beta-1", "Failed"]
        assert arn in out
        assert "The judge model could not be invoked." in out
        assert "Builtin.Correctness" in out
        assert "amazon.nova-pro-v1:0" in out
        assert "my-app-v1 (precomputed responses)" in out


def test_get_json(capsys, three_jobs):
    code, out, _ = run(capsys, "jobs", "get", "alpha-1", "--json")
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "Completed"
    assert job["jobArn"] == three_jobs["alpha-1"]
    assert job["creationTime"].startswith("2025-06-15T15:07:40")
    assert "ResponseMetadata" not in job


def test_get_not_found(capsys, three_jobs):
    code, out, err = run(capsys, "jobs", "get", "no-such-job")
    assert (code, out) == (1, "")
    assert "no evaluation job named no-such-job" in err
    missing = three_jobs["alpha-1"][:-12] + "zzzzzzzzzzzz"
    code, _, err = run(capsys, "jobs", "get", missing)
    assert code == 1
    assert f"evaluation job {missing} not found" in err


def test_get_usage_error(capsys, clock):
    code, _, err = run(capsys, "jobs", "get", "Not A Job")
    assert code == 2
    assert "not a job ARN, name or id" in err


def test_get_access_denied(capsys, three_jobs):
    bedrock_emulator.controls.inject_error("GetEvaluationJob", "AccessDeniedException")
    code, _, err = run(capsys, "jobs", "get", three_jobs["alpha-1"])
    assert code == 1
    assert "access denied (GetEvaluationJob)" in err


# ------------------------------------------------------------------------------------- stop


def test_stop_in_progress(capsys, three_jobs, bedrock):
    code, out, err = run(capsys, "jobs", "stop", "alpha-2")
    assert code == 0, err
    assert out.startswith("alpha-2: Stop")  # Stopping, or Stopped with a zero stop delay
    assert bedrock.get_evaluation_job(jobIdentifier=three_jobs["alpha-2"])["status"] == "Stopped"


def test_stop_finished_job_is_refused(capsys, three_jobs):
    code, out, err = run(capsys, "jobs", "stop", three_jobs["alpha-1"])
    assert (code, out) == (1, "")
    assert "cannot stop" in err
    assert "Completed" in err


def test_stop_not_found(capsys, three_jobs):
    code, _, err = run(capsys, "jobs", "stop", "gamma-1")
    assert code == 1
    assert "no evaluation job named gamma-1" in err


# ----------------------------------------------------------------------------------- delete


def test_delete_finished_jobs(capsys, three_jobs):
    code, out, err = run(capsys, "jobs", "delete", "alpha-1", three_jobs["beta-1"])
    assert code == 0, err
    assert out.splitlines() == ["alpha-1: Deleting", f"{three_jobs['beta-1']}: Deleting"]
    assert listed(capsys)[0] == ["alpha-2"]


def test_delete_reports_refused_and_missing(capsys, three_jobs):
    missing = three_jobs["alpha-1"][:-12] + "zzzzzzzzzzzz"
    code, out, err = run(capsys, "jobs", "delete", "alpha-1", "alpha-2", missing, "gamma-1")
    assert code == 1
    assert out.splitlines() == ["alpha-1: Deleting"]
    assert "alpha-2: refused (The evaluation job is InProgress" in err
    assert f"{missing}: not found" in err
    assert "gamma-1: not found" in err
    assert listed(capsys)[0] == ["alpha-2", "beta-1"]


def test_delete_json(capsys, three_jobs):
    code, out, _ = run(capsys, "jobs", "delete", "--json", "beta-1", "alpha-2")
    assert code == 1
    data = json.loads(out)
    assert [d["job"] for d in data["deleted"]] == ["beta-1"]
    assert [(e["job"], e["code"]) for e in data["errors"]] == [("alpha-2", "400")]


def test_delete_in_batches_of_25(capsys, create):
    arns = [create(f"job-{i}", seconds=0) for i in range(30)]
    calls: list[int] = []
    original = bedrock_emulator.EvaluationJobBackend.batch_delete

    def counting(self, identifiers):
        calls.append(len(identifiers))
        return original(self, identifiers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bedrock_emulator.EvaluationJobBackend, "batch_delete", counting)
        code, out, err = run(capsys, "jobs", "delete", *arns)
    assert code == 0, err
    assert calls == [25, 5]
    assert len(out.splitlines()) == 30
    assert listed(capsys)[0] == []
