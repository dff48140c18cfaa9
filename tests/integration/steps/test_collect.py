"""Collection in the pipeline against moto: dropped scenarios -> Validate plans batches -> the
collect step plays each batch against the suite's target -> Validate's ``collected`` entry
assembles and validates the run's dataset.

The target is local/target_app.py over HTTP, its bearer token in a Secrets Manager secret (moto).
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import urllib3

from evalpipe.collect import http_retry
from evalpipe.ports import CollectPorts
from evalpipe.run.triggers import RunRequest, TriggerKind, run_request_event
from evalpipe.steps.collect import OUT_OF_TIME, collect_batch
from evalpipe.steps.notify import notify
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from handlers import _runtime
from handlers import collect as collect_handler
from handlers import validate as validate_handler
from local.target_app import TargetApp
from tests.builders import SOURCE
from tests.integration.steps.flow import JOB_ARN, FakeContext, s3_event, smoke_suite

if TYPE_CHECKING:
    from collections.abc import Iterator

    from evalpipe.ports import Ports

TOKEN = "s3cr3t-token"
SCENARIOS = [
    {"id": "status", "category": "orders", "turns": ["Where is my order BK-1?"], "context": {"shop": "eu"}},
    {
        "id": "cancel",
        "category": "orders",
        "turns": ["Cancel my order BK-2.", "Yes, please cancel it."],
        "referenceResponse": "Done: order BK-2 is cancelled.",
        "context": {"shop": "eu"},
    },
    {"id": "returns", "category": "returns", "turns": ["How do returns work?"], "context": {"shop": "us"}},
]


@pytest.fixture
def app() -> Iterator[TargetApp]:
    with TargetApp(token=TOKEN) as running:
        yield running


@pytest.fixture
def secret_arn(mocked_aws: None) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name="bookstore-app", SecretString=json.dumps({"token": TOKEN}))["ARN"]


@pytest.fixture
def wrong_secret_arn(mocked_aws: None) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name="stale-token", SecretString="not-the-token")["ARN"]


def http_collect(url: str, secret: str, *, json_key: str | None = "token", **settings: Any) -> dict:
    header: dict[str, Any] = {"secretArn": secret, "prefix": "Bearer "}
    if json_key:
        header["jsonKey"] = json_key
    target = {
        "type": "http",
        "url": url,
        "body": {"messages": "{{messages}}", "shop": "{{context.shop}}"},
        "answerPath": "$.output.text",
        "headers": {"Authorization": header},
    }
    return {"target": target, "batchSize": 2, **settings}


@pytest.fixture
def allowing(ports: Ports, secret_arn: str, wrong_secret_arn: str) -> Ports:
    """The step ports of a deployment whose collectSecrets lists both secrets."""
    allowed = f"{secret_arn},{wrong_secret_arn}"
    settings = ports.settings.model_copy(update={"allowed_collect_secrets": tuple(allowed.split(","))})
    return dataclasses.replace(ports, settings=settings)


@pytest.fixture
def collect_ports(allowing: Ports) -> CollectPorts:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    pool = urllib3.PoolManager(retries=http_retry(2, backoff_seconds=0))
    return CollectPorts(
        objects=allowing.objects,
        runs=allowing.runs,
        settings=allowing.settings,
        bedrock_runtime=lambda: pytest.fail("no Bedrock target here"),
        lambda_client=lambda: pytest.fail("no Lambda target here"),
        secret_string=lambda arn: secrets.get_secret_value(SecretId=arn)["SecretString"],
        http=lambda: pool,
    )


def drop_scenarios(put, bucket: str, collect: dict | None, scenarios: Any = SCENARIOS, *, name="chat.json"):
    suite = smoke_suite(collect=collect) if collect is not None else smoke_suite()
    put("suites/smoke.json", json.dumps(suite).encode())
    body = scenarios if isinstance(scenarios, bytes) else json.dumps({"scenarios": scenarios}).encode()
    key = f"scenarios/smoke/{name}"
    return s3_event(bucket, key, put(key, body), size=len(body))


def collect_all(result: dict, ports: CollectPorts) -> list[dict]:
    return [collect_batch(result["run_id"], batch, ports) for batch in result["batches"]]


# --- validate: dropped scenarios ---------------------------------------------------------------


def test_dropped_scenarios_are_copied_and_planned_in_batches(allowing, put, bucket, app, secret_arn):
    # Given a suite that collects from an HTTP app, and three scenarios dropped for it
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn))
    # When Validate runs
    result = validate(event, allowing)
    # Then the run is COLLECTING, in two batches of at most two scenarios
    assert result["outcome"] == "COLLECT", allowing.runs.get(result["run_id"]).problems
    assert result["batches"] == [1, 2]
    run = allowing.runs.load(result["run_id"])
    assert (run.status, run.trigger) == ("COLLECTING", TriggerKind.SCENARIOS)
    assert run.dataset is not None and run.dataset.key == "scenarios/smoke/chat.json"
    collection = run.collection
    assert collection is not None
    assert (collection.scenarios, collection.batch_size, collection.batches) == (3, 2, 2)
    # And the dropped version is the run's own copy under inputs/
    assert collection.input_key == f"inputs/smoke/{run.run_id}/collected/chat.scenarios.json"
    assert json.loads(allowing.objects.read_bytes(collection.input_key))["scenarios"] == SCENARIOS


def test_scenarios_for_a_suite_without_pipeline_collect_are_rejected(allowing, put, bucket):
    # Given a suite without pipeline.collect
    event = drop_scenarios(put, bucket, None)
    # When scenarios are dropped for it
    result = validate(event, allowing)
    # Then the run is REJECTED, saying what to add
    assert result["outcome"] == "REJECTED"
    [problem] = allowing.runs.load(result["run_id"]).problems
    assert problem.field == "pipeline.collect"
    assert "has no pipeline.collect" in problem.message


def test_a_target_the_deployment_does_not_allow_is_rejected_naming_the_setting(ports, put, bucket, app):
    # Given a suite whose header reads a secret the deployment's collectSecrets lacks
    other = "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf"
    event = drop_scenarios(put, bucket, http_collect(app.url, other))
    # When scenarios are dropped
    result = validate(event, ports)
    # Then the run is REJECTED, naming the field and the setting to change
    assert result["outcome"] == "REJECTED"
    [problem] = ports.runs.load(result["run_id"]).problems
    assert problem.field == "pipeline.collect.target.headers.Authorization.secretArn"
    assert "collectSecrets" in problem.message


def test_a_header_from_the_environment_is_rejected_in_the_pipeline(allowing, put, bucket, app):
    # Given a suite whose header reads an environment variable (evalpipe collect's source)
    collect = http_collect(app.url, "unused")
    collect["target"]["headers"] = {"Authorization": {"env": "APP_TOKEN"}}
    event = drop_scenarios(put, bucket, collect)
    # When scenarios are dropped
    result = validate(event, allowing)
    # Then the run is REJECTED, naming the header
    assert result["outcome"] == "REJECTED"
    [problem] = allowing.runs.load(result["run_id"]).problems
    assert problem.field == "pipeline.collect.target.headers.Authorization"
    assert "secretArn" in problem.message


def test_a_bad_scenarios_file_is_rejected_naming_the_file_and_field(allowing, put, bucket, app, secret_arn):
    # Given a scenarios file whose second scenario has no turns
    broken = [SCENARIOS[0], {"id": "empty", "category": "misc", "turns": []}]
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn), broken)
    # When Validate runs
    result = validate(event, allowing)
    # Then the run is REJECTED with the file and the scenario's field
    assert result["outcome"] == "REJECTED"
    problems = allowing.runs.load(result["run_id"]).problems
    assert {p.file for p in problems} == {"scenarios/smoke/chat.json"}
    assert any(p.field and p.field.startswith("scenarios[1].turns") for p in problems), problems


def test_a_scenarios_file_that_is_not_json_is_rejected(allowing, put, bucket, app, secret_arn):
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn), name="chat.yaml")
    result = validate(event, allowing)
    assert result["outcome"] == "REJECTED"
    [problem] = allowing.runs.load(result["run_id"]).problems
    assert "only .json scenarios files" in problem.message


def test_a_scenarios_file_with_a_json_error_is_rejected_naming_its_line(
    allowing, put, bucket, app, secret_arn
):
    # Given a .json scenarios file broken on its third line
    broken = b'{"scenarios": [\n  {"id": "s1", "turns": ["hi"]},\n  {"id": "s2" "turns": ["x"]}\n]}'
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn), broken)
    # When Validate runs
    result = validate(event, allowing)
    # Then the run is REJECTED with one problem: the file, its line, no invented field
    assert result["outcome"] == "REJECTED"
    [problem] = allowing.runs.load(result["run_id"]).problems
    assert (problem.file, problem.line, problem.field) == ("scenarios/smoke/chat.json", 3, None)
    assert problem.message.startswith("not valid JSON: Expecting ',' delimiter at line 3")


def test_a_scenario_missing_a_field_is_rejected_naming_the_field(allowing, put, bucket, app, secret_arn):
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn), [{"id": "s1"}])
    result = validate(event, allowing)
    assert result["outcome"] == "REJECTED"
    fields = [problem.field for problem in allowing.runs.load(result["run_id"]).problems]
    assert fields and all(field and field.startswith("scenarios[0]") for field in fields), fields


def test_a_batch_out_of_time_is_written_with_its_unplayed_scenarios_named(
    allowing, collect_ports, put, bucket, app, secret_arn
):
    # Given dropped scenarios planned, and a CollectBatch invoked with no time left
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn))
    result = validate(event, allowing)
    # When the first batch runs
    outcome = collect_batch(result["run_id"], 1, collect_ports, seconds_left=0)
    # Then the batch is still written, every scenario a failure that says the batch ran out of time
    assert (outcome["records"], outcome["failed"]) == (0, outcome["scenarios"])
    run = allowing.runs.load(result["run_id"])
    assert run.collection is not None
    meta = allowing.objects.read_bytes(run.collection.batch_key(1, ".meta.jsonl"), max_bytes=10**6)
    errors = [json.loads(line)["error"] for line in meta.splitlines()]
    assert len(errors) == outcome["scenarios"] and all(error == OUT_OF_TIME for error in errors)
    assert allowing.objects.read_bytes(run.collection.batch_key(1), max_bytes=10**6) == b""


# --- validate: run requests of a suite that collects (pipeline.collect.scenarios) ---------------

SCHEDULE_ARN = "arn:aws:scheduler:us-east-1:123456789012:schedule/evalpipe-test/smoke"


def request_collection(put, collect: dict, *, versions: list[list[dict]] | None = None) -> dict:
    """Upload a scheduled suite that collects from scenarios/smoke/chat.json, each of ``versions`` of
    that file in turn (none: the file is missing), and return its schedule's run request."""
    suite = smoke_suite(collect={**collect, "scenarios": "chat.json"}, schedule={"expression": "rate(1 day)"})
    put("suites/smoke.json", json.dumps(suite).encode())
    for scenarios in versions or []:
        put("scenarios/smoke/chat.json", json.dumps({"scenarios": scenarios}).encode())
    return run_request_event(
        "smoke",
        TriggerKind.SCHEDULE,
        request_id="exec-1",
        time="2026-11-23T06:00:00Z",
        schedule_arn=SCHEDULE_ARN,
    )


def test_a_scheduled_request_collects_the_latest_scenarios_and_submits_what_it_collected(
    allowing, collect_ports, put, bucket, app, secret_arn, bedrock
):
    # Given a scheduled suite collecting from scenarios/smoke/chat.json, uploaded twice
    event = request_collection(put, http_collect(app.url, secret_arn), versions=[SCENARIOS[:1], SCENARIOS])
    # When its schedule's run request is validated
    result = validate(event, allowing)
    # Then the run, under the scheduled time's identity, plans the latest version's three scenarios
    request = RunRequest.from_event(event)
    assert result == {"run_id": request.run_id, "suite": "smoke", "outcome": "COLLECT", "batches": [1, 2]}
    run = allowing.runs.load(request.run_id)
    assert (run.status, run.trigger, run.dataset) == ("COLLECTING", TriggerKind.SCHEDULE, None)
    assert run.request is not None and run.request.schedule_arn == SCHEDULE_ARN
    collection = run.collection
    assert collection is not None
    assert collection.input_key == f"inputs/smoke/{run.run_id}/collected/chat.scenarios.json"
    assert json.loads(allowing.objects.read_bytes(collection.input_key))["scenarios"] == SCENARIOS
    # When the batches are collected and assembled
    collect_all(result, collect_ports)
    valid = validate({"collected": {"run_id": run.run_id}}, allowing)
    # Then the collected dataset is valid, and measured for the estimate
    assert valid["outcome"] == "VALID", allowing.runs.load(run.run_id).problems
    run = allowing.runs.load(run.run_id)
    assert run.input_dataset is not None
    assert run.input_dataset.key == f"inputs/smoke/{run.run_id}/chat.jsonl"
    assert run.collection is not None
    assert (run.collection.collected, run.collection.records, run.collection.failed) == (3, 3, 0)
    assert run.estimate is not None and run.estimate["total_usd"] is not None
    # When submitted / Then the job reads the collected dataset, under the run's job name and token
    sent: list[dict] = []
    bedrock.client.meta.events.register(
        "before-parameter-build.bedrock.CreateEvaluationJob", lambda params, **_: sent.append(params)
    )
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
    assert submit(run.run_id, 1, allowing)["job_arn"] == JOB_ARN
    [params] = sent
    [entry] = params["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    assert entry["dataset"] == {
        "name": "smoke",
        "datasetLocation": {"s3Uri": f"s3://{bucket}/inputs/smoke/{run.run_id}/chat.jsonl"},
    }
    assert (params["jobName"], params["clientRequestToken"]) == (run.run_id, request.client_request_token)


def test_a_scheduler_retry_of_a_scheduled_collection_is_a_duplicate_and_the_next_time_a_new_run(
    allowing, put, app, secret_arn
):
    # Given a scheduled collection claimed for 06:00
    event = request_collection(put, http_collect(app.url, secret_arn), versions=[SCENARIOS])
    first = validate(event, allowing)
    # When the scheduler retries the same scheduled time (a new execution id), then fires the next day
    retry = validate({**event, "id": "exec-2"}, allowing)
    next_day = validate({**event, "id": "exec-3", "time": "2026-11-24T06:00:00Z"}, allowing)
    # Then the retry is the same run (nothing collected twice); the next day is a run of its own,
    # collecting under its own prefix
    assert first["outcome"] == "COLLECT"
    assert retry == {"run_id": first["run_id"], "suite": "smoke", "outcome": "DUPLICATE"}
    assert next_day["outcome"] == "COLLECT" and next_day["run_id"] != first["run_id"]
    collections = [allowing.runs.load(r["run_id"]).collection for r in (first, next_day)]
    assert [c.prefix for c in collections if c] == [
        f"inputs/smoke/{first['run_id']}/collected/",
        f"inputs/smoke/{next_day['run_id']}/collected/",
    ]


def test_a_scheduled_collection_names_its_scenarios_file_in_the_failures(
    allowing, collect_ports, put, app, secret_arn
):
    # Given a scheduled collection one of whose scenarios lacks the context the body needs
    scenarios = [SCENARIOS[0], {"id": "no-shop", "category": "misc", "turns": ["hello"]}]
    event = request_collection(put, http_collect(app.url, secret_arn), versions=[scenarios])
    result = validate(event, allowing)
    # When collected and assembled
    collect_all(result, collect_ports)
    assert validate({"collected": {"run_id": result["run_id"]}}, allowing)["outcome"] == "VALID"
    # Then the failure is a warning on the scenarios file the run read
    run = allowing.runs.load(result["run_id"])
    [warning] = [w for w in run.warnings if "was not collected" in w.message]
    assert warning.file == "scenarios/smoke/chat.json"
    assert warning.message.startswith("scenario no-shop was not collected: ")


def test_a_scheduled_collection_without_its_scenarios_file_is_rejected_naming_the_key(
    allowing, put, bucket, app, secret_arn, sns_messages
):
    # Given a scheduled suite collecting from scenarios/smoke/chat.json, which nobody uploaded
    event = request_collection(put, http_collect(app.url, secret_arn))
    # When its run request is validated and the run notified
    result = validate(event, allowing)
    notify(result["run_id"], allowing)
    # Then the run is REJECTED, naming the missing key, and nothing was collected
    assert result["outcome"] == "REJECTED"
    run = allowing.runs.load(result["run_id"])
    assert (run.status, run.verdict, run.collection) == ("REJECTED", "REJECTED", None)
    [problem] = run.problems
    assert problem.file == "scenarios/smoke/chat.json"
    assert (
        "scenarios file not found: this suite collects each requested run's dataset from it"
        in problem.message
    )
    assert f"upload s3://{bucket}/scenarios/smoke/chat.json" in problem.message
    # And one notification says so
    [message] = sns_messages()
    assert message["attributes"]["verdict"] == "REJECTED"
    assert "scenarios/smoke/chat.json" in message["message"]


def test_a_request_for_a_collecting_suite_without_a_scenarios_file_says_to_name_one(
    allowing, put, app, secret_arn
):
    # Given a suite with pipeline.collect but no pipeline.collect.scenarios, and a CLI run request
    put("suites/smoke.json", json.dumps(smoke_suite(collect=http_collect(app.url, secret_arn))).encode())
    event = run_request_event("smoke", "cli", request_id="u-1", time="2026-11-23T06:00:00Z")
    # When validated / Then it is rejected, saying how a request can fill the dataset
    result = validate(event, allowing)
    assert result["outcome"] == "REJECTED"
    [problem] = allowing.runs.load(result["run_id"]).problems
    assert "set pipeline.collect.scenarios so that each requested run collects it from scenarios/smoke/" in (
        problem.message
    )


# --- collect + collected ---------------------------------------------------------------------


def test_batches_are_collected_with_the_secret_and_validated_in_scenario_order(
    allowing, collect_ports, put, bucket, app, secret_arn
):
    # Given a planned collection of three scenarios in two batches
    result = validate(drop_scenarios(put, bucket, http_collect(app.url, secret_arn)), allowing)
    # When both batches are collected (the token read from the secret's JSON key)
    done = collect_all(result, collect_ports)
    # Then every scenario became a record, and the app saw the bearer token
    assert [(d["batch"], d["scenarios"], d["records"], d["failed"]) for d in done] == [
        (1, 2, 2, 0),
        (2, 1, 1, 0),
    ]
    assert {r.headers.get("authorization") for r in app.requests} == {f"Bearer {TOKEN}"}
    # When Validate's collected entry runs
    valid = validate({"collected": {"run_id": result["run_id"]}}, allowing)
    # Then the run's dataset holds the records in scenario order, stripped of reasoning, and is VALID
    assert valid["outcome"] == "VALID" and valid["shards"] == [1]
    run = allowing.runs.load(result["run_id"])
    assert run.status == "VALIDATING"
    assert run.input_dataset is not None
    assert run.input_dataset.key == f"inputs/smoke/{run.run_id}/chat.jsonl"
    lines = [json.loads(x) for x in allowing.objects.read_bytes(run.input_dataset.key).splitlines()]
    assert [line["id"] for line in lines] == ["status", "cancel", "returns"]
    assert {line["modelResponses"][0]["modelIdentifier"] for line in lines} == {SOURCE}
    assert all("<thinking>" not in line["modelResponses"][0]["response"] for line in lines)
    assert lines[1]["prompt"].startswith("User: Cancel my order BK-2.\nAssistant: ")
    assert run.collection is not None
    assert (run.collection.collected, run.collection.records, run.collection.failed) == (3, 3, 0)
    assert run.estimate is not None and run.suite_document is not None


def test_a_failing_scenario_becomes_a_warning_and_the_rest_is_evaluated(
    allowing, collect_ports, put, bucket, app, secret_arn
):
    # Given scenarios one of which lacks the context the body template needs
    scenarios = [SCENARIOS[0], {"id": "no-shop", "category": "misc", "turns": ["hello"]}, SCENARIOS[2]]
    result = validate(drop_scenarios(put, bucket, http_collect(app.url, secret_arn), scenarios), allowing)
    # When collected and assembled
    collect_all(result, collect_ports)
    valid = validate({"collected": {"run_id": result["run_id"]}}, allowing)
    # Then the run is VALID with two records, and the failed scenario is a warning naming it
    assert valid["outcome"] == "VALID"
    run = allowing.runs.load(result["run_id"])
    assert run.collection is not None
    assert (run.collection.collected, run.collection.failed) == (2, 1)
    assert [f.scenario_id for f in run.collection.failures] == ["no-shop"]
    warned = [w.message for w in run.warnings if "was not collected" in w.message]
    assert len(warned) == 1 and warned[0].startswith("scenario no-shop was not collected: ")


def test_no_scenario_collected_is_rejected_naming_the_failed_scenarios(
    allowing, collect_ports, put, bucket, app, wrong_secret_arn
):
    # Given a secret holding a stale token (the app answers 401 to every request)
    collect = http_collect(app.url, wrong_secret_arn, json_key=None)
    result = validate(drop_scenarios(put, bucket, collect), allowing)
    # When collected and assembled
    done = collect_all(result, collect_ports)
    rejected = validate({"collected": {"run_id": result["run_id"]}}, allowing)
    # Then nothing was collected and the run is REJECTED, naming every scenario
    assert sum(d["records"] for d in done) == 0
    assert rejected["outcome"] == "REJECTED"
    run = allowing.runs.load(result["run_id"])
    assert (run.status, run.verdict) == ("REJECTED", "REJECTED")
    [problem] = run.problems
    assert "no scenario was collected" in problem.message
    assert "status, cancel, returns" in problem.message
    assert all("HTTP 401" in w.message for w in run.warnings if "was not collected" in w.message)


# --- the handlers ----------------------------------------------------------------------------


def test_the_handlers_collect_and_validate_through_the_functions_environment(
    function_env, monkeypatch, put, bucket, app, secret_arn
):
    # Given the functions' environment allowing the secret
    monkeypatch.setenv("ALLOWED_COLLECT_SECRETS", secret_arn)
    _runtime.reset()
    event = drop_scenarios(put, bucket, http_collect(app.url, secret_arn))
    # When the state machine's three tasks run in turn
    planned = validate_handler.handler(event, FakeContext())
    for batch in planned["batches"]:
        collect_handler.handler({"run_id": planned["run_id"], "batch": batch}, FakeContext())
    valid = validate_handler.handler({"collected": {"run_id": planned["run_id"]}}, FakeContext())
    # Then the run is valid
    assert (planned["outcome"], valid["outcome"]) == ("COLLECT", "VALID")
