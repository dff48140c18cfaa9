"""The one Lambda factory: runtime, architecture, logging, tracing, environment, least privilege."""

from __future__ import annotations

import pytest

from infra import constants
from tests.infra.conftest import KEY_ARN, Synth, policy_of_role, render, role_of_function, statements

# The state machine's functions, and every function the one factory builds (SyncSchedules too).
FUNCTIONS = constants.FUNCTION_LOGICAL_IDS
ALL_FUNCTIONS = {**constants.FUNCTION_LOGICAL_IDS, **constants.EXTRA_FUNCTION_LOGICAL_IDS}
BUCKET = f"<{constants.BUCKET_LOGICAL_ID}.Arn>"
TABLE = f"<{constants.RUNS_TABLE_LOGICAL_ID}.Arn>"
JOBS = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:evaluation-job/*"


def _props(synth: Synth, name: str) -> dict:
    return synth.resource(ALL_FUNCTIONS[name])["Properties"]


def _grants(synth: Synth, name: str) -> dict[str, set[str]]:
    """resource -> actions allowed to the function's role."""
    grants: dict[str, set[str]] = {}
    for statement in statements(policy_of_role(synth, role_of_function(synth, ALL_FUNCTIONS[name]))):
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            grants.setdefault(render(resource), set()).update(statement["Action"])
    return grants


def test_every_state_has_a_function_with_its_handler(synth: Synth) -> None:
    handlers = {
        props["Handler"]
        for props in (r["Properties"] for r in synth.resources("AWS::Lambda::Function").values())
    }
    assert handlers == {f"handlers.{name}.handler" for name in ALL_FUNCTIONS}


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_function_shape(synth: Synth, name: str) -> None:
    props = _props(synth, name)
    assert props["Runtime"] == f"python{constants.LAMBDA_PYTHON_VERSION}"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    assert (props["MemorySize"], props["Timeout"]) == ((1024, 300) if name == "parse" else (512, 60))


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_function_logs_to_its_own_group_with_retention(synth: Synth, name: str) -> None:
    log_group = _props(synth, name)["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.resource(log_group)["Properties"]["RetentionInDays"] == 30
    assert _grants(synth, name)[f"<{log_group}.Arn>"] == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_architecture_and_retention_come_from_settings(variant: Synth) -> None:
    props = variant.resource(FUNCTIONS["poll"])["Properties"]
    assert props["Architectures"] == ["x86_64"]
    assert variant.resource(props["LoggingConfig"]["LogGroup"]["Ref"])["Properties"]["RetentionInDays"] == 90


def test_all_functions_share_one_code_asset_whose_hash_follows_the_architecture(
    synth: Synth, variant: Synth
) -> None:
    def keys(s: Synth) -> set[str]:
        return {r["Properties"]["Code"]["S3Key"] for r in s.resources("AWS::Lambda::Function").values()}

    assert len(keys(synth)) == 1
    # arm64 and x86_64 wheels differ: a shared hash would reuse the wrong binaries.
    assert keys(synth) != keys(variant)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_powertools_and_storage_environment(synth: Synth, name: str) -> None:
    env = _props(synth, name)["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "evalpipe"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "EvalPipe"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["RUNS_TABLE_NAME"] == {"Ref": constants.RUNS_TABLE_LOGICAL_ID}
    assert env["BUCKET_NAME"] == {"Ref": constants.BUCKET_LOGICAL_ID}


def test_per_function_environment(synth: Synth, variant: Synth) -> None:
    def extras(s: Synth, name: str) -> dict:
        env = dict(s.resource(FUNCTIONS[name])["Properties"]["Environment"]["Variables"])
        for common in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
            env.pop(common)
        env.pop("RUNS_TABLE_NAME"), env.pop("BUCKET_NAME")
        return env

    assert extras(synth, "validate") == {
        "ALLOWED_EVALUATOR_MODELS": "amazon.nova-pro-v1:0",
        "POLL_INTERVAL_SECONDS": "60",
        "JOB_TIMEOUT_SECONDS": "86400",
        **HUMAN_TIMING,
    }
    assert extras(synth, "submit") == {
        "BEDROCK_ROLE_ARN": {"Fn::GetAtt": [constants.BEDROCK_ROLE_LOGICAL_ID, "Arn"]},
        "ALLOWED_EVALUATOR_MODELS": "amazon.nova-pro-v1:0",
        "POLL_INTERVAL_SECONDS": "60",
        "JOB_TIMEOUT_SECONDS": "86400",
        **HUMAN_TIMING,
    }
    assert extras(synth, "poll") == {
        "POLL_INTERVAL_SECONDS": "60",
        "JOB_TIMEOUT_SECONDS": "86400",
        **HUMAN_TIMING,
    }
    assert extras(synth, "notify") == {"TOPIC_ARN": {"Ref": constants.TOPIC_LOGICAL_ID}}
    for name in ("stop", "parse", "record_error"):
        assert extras(synth, name) == {}
    submit = extras(variant, "submit")
    assert submit["KMS_KEY_ARN"] == KEY_ARN
    assert submit["POLL_INTERVAL_SECONDS"] == "30"
    assert submit["ALLOWED_EVALUATOR_MODELS"].split(",")[0] == "us.amazon.nova-pro-v1:0"


HUMAN_TIMING = {
    "HUMAN_POLL_MIN_SECONDS": "900",
    "HUMAN_POLL_MAX_SECONDS": "21600",
    "HUMAN_JOB_TIMEOUT_SECONDS": "2592000",
}


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_no_function_gets_wildcard_actions_or_managed_policies(synth: Synth, name: str) -> None:
    role = synth.resource(role_of_function(synth, ALL_FUNCTIONS[name]))
    assert "ManagedPolicyArns" not in role["Properties"]
    for resource, actions in _grants(synth, name).items():
        assert all(action != "*" and not action.endswith(":*") for action in actions), (resource, actions)
        if resource == "*":  # only X-Ray, which has no resource-level permissions
            assert actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


# Only parse writes objects, and only its HTML reports.
EXPECTED_WRITES = {"parse": {"reports/*"}}

EXPECTED_ACCESS = {
    # name: (bucket prefixes read, bedrock job actions)
    "validate": ({"suites/*", "datasets/*"}, set()),
    "submit": ({"suites/*"}, {"bedrock:CreateEvaluationJob", "bedrock:TagResource"}),
    "poll": (set(), {"bedrock:GetEvaluationJob"}),
    "stop": (set(), {"bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob"}),
    "parse": ({"results/*", "datasets/*"}, set()),
    "notify": (set(), set()),
    "record_error": (set(), set()),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_least_privilege_per_function(synth: Synth, name: str) -> None:
    grants = _grants(synth, name)
    prefixes, job_actions = EXPECTED_ACCESS[name]

    # Every function reads and writes the runs table (and its index).
    assert "dynamodb:PutItem" in grants[TABLE] and "dynamodb:Query" in grants[f"{TABLE}/index/*"]
    # Objects: only the prefixes of its state, read-only.
    objects = {
        resource.removeprefix(f"{BUCKET}/") for resource in grants if resource.startswith(f"{BUCKET}/")
    }
    writes = EXPECTED_WRITES.get(name, set())
    assert objects == prefixes | writes
    assert all("s3:PutObject" not in grants[f"{BUCKET}/{prefix}"] for prefix in prefixes)
    assert all("s3:PutObject" in grants[f"{BUCKET}/{prefix}"] for prefix in writes)
    assert all("s3:GetObject" not in grants[f"{BUCKET}/{prefix}"] for prefix in writes)
    # Bedrock: only its own job actions, on evaluation jobs only.
    bedrock = {action for actions in grants.values() for action in actions if action.startswith("bedrock:")}
    assert bedrock == job_actions
    if job_actions:
        assert grants[JOBS] == job_actions
    # Passing the service role: submit only, and only that role.
    passes = {resource for resource, actions in grants.items() if "iam:PassRole" in actions}
    assert passes == ({f"<{constants.BEDROCK_ROLE_LOGICAL_ID}.Arn>"} if name == "submit" else set())
    # Publishing: notify only.
    publishes = {resource for resource, actions in grants.items() if "sns:Publish" in actions}
    assert publishes == ({f"<{constants.TOPIC_LOGICAL_ID}>"} if name == "notify" else set())


def test_submit_may_use_the_given_key_for_the_job(variant: Synth) -> None:
    grants = _grants(variant, "submit")
    assert {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"} <= grants[KEY_ARN]
