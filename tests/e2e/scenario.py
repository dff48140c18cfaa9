"""Given / When / Then steps the e2e modules share: a suite in the bucket, a dataset dropped, what came of it.

``given_suite`` uploads an example suite (under its own name, or another); ``when_dataset_dropped``
uploads a dataset as ``aws s3 cp`` would and waits for the execution it starts; the `Execution` it
returns reads what that execution left behind (its run and records in the table, the subscriber's
messages for the run, Bedrock's jobs, the output files) through the deployment's public API;
``ended`` gives the same for an execution started otherwise (a fired schedule, a re-sent event).
The ``then_*`` steps are the checks several kinds of run make alike.

Examples
--------
>>> suite = given_suite(stack, "support-assistant-live")  # doctest: +SKIP
>>> dropped = when_dataset_dropped(stack, suite, "e2e-live.jsonl")  # doctest: +SKIP
>>> item = then_run_completed(dropped, records=len(suite.dataset().splitlines()))  # doctest: +SKIP
>>> dropped.message(count=10)["attributes"]["suite"]  # doctest: +SKIP
'support-assistant-live'
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local import demo

if TYPE_CHECKING:
    from evalpipe.run.model import RecordItem, Run
    from local.demo import LocalDeployment

DROP_TIMEOUT = 120  # seconds an execution started by a dataset drop may take


@dataclass(frozen=True)
class Suite:
    """A suite file in the bucket (``suites/<name>.json``) and the example it was made from."""

    name: str
    example: str

    @property
    def key(self) -> str:
        return f"suites/{self.name}.json"

    @property
    def file(self) -> Path:
        return demo.EXAMPLES / "suites" / f"{self.example}.json"

    def dataset(self) -> bytes:
        """The example's sample dataset (``examples/datasets/<example>/sample.jsonl``)."""
        return (demo.EXAMPLES / "datasets" / self.example / "sample.jsonl").read_bytes()

    def conversations(self) -> list[list[dict[str, Any]]]:
        """The conversation turns of each line of the example's (RAG) dataset."""
        return [json.loads(line)["conversationTurns"] for line in self.dataset().decode().splitlines()]

    def dataset_key(self, file_name: str) -> str:
        return f"datasets/{self.name}/{file_name}"


# The suite the `stack` fixture uploads for every test.
SUPPORT_ASSISTANT = Suite("support-assistant", "support-assistant")


@dataclass(frozen=True)
class Execution:
    """One ended execution of the state machine, and what its run left in the deployment.

    ``run`` and ``records`` read the table each time they are used.
    """

    stack: LocalDeployment
    suite: str
    arn: str
    description: dict[str, Any]
    key: str | None = None  # the dataset whose upload started it

    @property
    def status(self) -> str:
        return self.description["status"]

    @property
    def event(self) -> dict[str, Any]:
        """The execution's input: the event that started it."""
        return json.loads(self.description["input"])

    @property
    def output(self) -> dict[str, Any]:
        return json.loads(self.description["output"])

    @property
    def run_id(self) -> str:
        return self.output["run"]["run_id"]

    @property
    def run(self) -> Run | None:
        return self.stack.run(self.run_id)

    @property
    def records(self) -> list[RecordItem]:
        return self.stack.records(self.run_id)

    def messages(self, *, wait: float = 10, count: int = 1) -> list[dict[str, Any]]:
        """The subscriber's messages about this run (`LocalDeployment.messages` drains the queue)."""
        received = self.stack.messages(wait=wait, count=count)
        return [m for m in received if m["attributes"].get("run_id") == self.run_id]

    def message(self, *, wait: float = 10, count: int = 1) -> dict[str, Any]:
        """The one message about this run (``count``: how many to wait for before it is counted)."""
        messages = self.messages(wait=wait, count=count)
        assert len(messages) == 1, messages
        return messages[0]

    def jobs(self) -> list[dict[str, Any]]:
        """Bedrock's evaluation jobs of this run (their names carry the run id)."""
        return self.stack.client("bedrock").list_evaluation_jobs(nameContains=self.run_id)["jobSummaries"]

    def job(self) -> dict[str, Any]:
        """The run's one evaluation job."""
        jobs = self.jobs()
        assert len(jobs) == 1, jobs
        return jobs[0]

    def states(self) -> list[str]:
        """The states the execution entered, in order."""
        return [row["name"] for row in demo.state_rows(self.stack.history(self.arn))]

    def errors(self) -> list[str]:
        """Error names of the failed task attempts (what Retry and Catch matched on)."""
        errors = []
        for event in self.stack.history(self.arn):
            for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails"):
                if key in event:
                    errors.append(event[key].get("error", ""))
        return errors

    def output_files(self) -> list[str]:
        """The keys of the job's ``*_output.jsonl`` files under ``results/<suite>/<run id>/``."""
        listed = self.stack.client("s3").list_objects_v2(
            Bucket=self.stack.bucket, Prefix=f"results/{self.suite}/{self.run_id}/"
        )
        return sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith("_output.jsonl"))

    def output_lines(self, *keys: str) -> list[dict[str, Any]]:
        """The JSON lines of the given output files (all of them when none is given), in order."""
        s3 = self.stack.client("s3")
        return [
            json.loads(line)
            for key in keys or self.output_files()
            for line in s3.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read().splitlines()
            if line.strip()
        ]


# ====================================================================== Given
def given_suite(
    stack: LocalDeployment, example: str, *, as_name: str | None = None, document: dict | None = None
) -> Suite:
    """Upload ``examples/suites/<example>.json`` as ``suites/<as_name or example>.json``.

    ``document`` uploads that suite document instead of the example's file (an edited copy).
    """
    suite = Suite(as_name or example, example)
    if document is None:
        stack.upload(suite.file, suite.key)
        return suite
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{suite.name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        stack.upload(path, suite.key)
    return suite


def given_cli_for(stack: LocalDeployment, monkeypatch: Any) -> str:
    """Point the ``evalpipe`` CLI at the local endpoint (as a user's ``AWS_ENDPOINT_URL`` does);
    returns the name of the deployed stack, for ``--stack``."""
    for name, value in {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.region,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    wanted = {"OutputKey": "BucketName", "OutputValue": stack.bucket}
    [name] = [
        s["StackName"]
        for s in stack.client("cloudformation").describe_stacks()["Stacks"]
        if wanted
        in [{"OutputKey": o["OutputKey"], "OutputValue": o["OutputValue"]} for o in s.get("Outputs", [])]
    ]
    return name


# ====================================================================== When
def when_dataset_dropped(
    stack: LocalDeployment, suite: Suite, file_name: str, body: bytes | None = None
) -> Execution:
    """Upload ``body`` (the example's dataset by default) as ``datasets/<suite>/<file_name>``, like
    ``aws s3 cp``; wait for the execution it starts to end."""
    key = suite.dataset_key(file_name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / file_name
        path.write_bytes(suite.dataset() if body is None else body)
        stack.upload(path, key)
    arn = stack.execution_for(key)
    return Execution(stack, suite.name, arn, stack.wait_for_execution(arn, timeout=DROP_TIMEOUT), key)


def ended(stack: LocalDeployment, suite: str, arn: str, *, timeout: float = 120) -> Execution:
    """The execution ``arn`` of a run of ``suite``, once it has ended (or ``timeout`` passed)."""
    return Execution(stack, suite, arn, stack.wait_for_execution(arn, timeout=timeout))


# ====================================================================== Then
def then_run_completed(execution: Execution, *, records: int | None = None) -> Run:
    """The execution succeeded and its run COMPLETED (with ``records`` records); returns the run."""
    assert execution.status == "SUCCEEDED", execution.description.get("cause")
    run = execution.run
    assert run is not None
    assert run.status == "COMPLETED"
    if records is not None:
        assert run.record_count == records
    return run


def then_records_are_the_turns_in_order(
    records: list[RecordItem], conversations: list[list[dict[str, Any]]]
) -> None:
    """One record per conversation turn, indexed in conversation order, with the turn's prompt."""
    turns = [turn for conversation in conversations for turn in conversation]
    assert [r.index for r in records] == list(range(len(turns)))
    expected = [
        (line, turn) for line, c in enumerate(conversations, start=1) for turn in range(1, len(c) + 1)
    ]
    assert [(r.conversation, r.turn) for r in records] == expected
    assert [r.prompt_excerpt for r in records] == [t["prompt"]["content"][0]["text"] for t in turns]
