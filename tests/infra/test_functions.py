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
    sizes = {"parse": (1024, 300), "collect": (512, 900)}
    assert (props["MemorySize"], props["Timeout"]) == sizes.get(name, (512, 60))


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
        "MAX_RUN_RECORDS": "50000",
        "POLL_INTERVAL_SECONDS": "60",
        "JOB_TIMEOUT_SECONDS": "86400",
        **HUMAN_TIMING,
    }
    assert extras(synth, "submit") == {
        "BEDROCK_ROLE_ARN": {"Fn::GetAtt": [constants.BEDROCK_ROLE_LOGICAL_ID, "Arn"]},
        "ALLOWED_EVALUATOR_MODELS": "amazon.nova-pro-v1:0",
        "MAX_CONCURRENT_JOBS": "5",
        "MAX_CONCURRENT_HUMAN_JOBS": "5",
        "SLOT_WAIT_SECONDS": "60",
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
    # parse's scratch tables go to /tmp, whatever directories SQLite would try first
    assert extras(synth, "parse") == {"SQLITE_TMPDIR": "/tmp"}
    for name in ("stop", "record_error"):
        assert extras(synth, name) == {}
    # collectModels & co. are empty by default: no allow-list, nothing the collect function may call
    assert extras(synth, "collect") == {"COLLECT_THREADS": "4"}
    reconcile = _props(synth, "reconcile")["Environment"]["Variables"]
    assert set(reconcile) - set(extras(synth, "stop")) >= {"TOPIC_ARN"}
    assert reconcile["TOPIC_ARN"] == {"Ref": constants.TOPIC_LOGICAL_ID}
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


# Objects written: validate its run's copy of the dataset, parse its HTML reports.
EXPECTED_WRITES = {"validate": {"inputs/*"}, "parse": {"reports/*"}, "collect": {"inputs/*"}}

EXPECTED_ACCESS = {
    # name: (bucket prefixes read, bedrock job actions)
    # validate copies the dropped dataset, or the scenarios a run collects, under inputs/
    "validate": ({"suites/*", "datasets/*", "scenarios/*", "inputs/*"}, set()),
    "submit": ({"suites/*"}, {"bedrock:CreateEvaluationJob", "bedrock:TagResource"}),
    "poll": (set(), {"bedrock:GetEvaluationJob"}),
    "stop": (set(), {"bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob"}),
    # inputs/: the run's copy; datasets/: runs recorded before copies existed
    "parse": ({"results/*", "inputs/*", "datasets/*"}, set()),
    "notify": (set(), set()),
    # the run's scenarios copy and its batches
    "collect": ({"inputs/*"}, set()),
    # RecordError and Reconcile stop a job the failed run leaves running (and read a refused stop back)
    "record_error": (set(), {"bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob"}),
    "reconcile": (set(), {"bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob"}),
}

GET, PUT, UPDATE = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"
QUERY, BATCH_WRITE, BATCH_GET = "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"
# The runs-table actions of each function: those of the RunsTable calls its step makes
# (claim = PutItem, get/load = GetItem, save = UpdateItem, put_records = BatchWriteItem,
# iter_record_scores = Query, get_records = BatchGetItem, delete_records_from = Query + BatchWriteItem,
# history = Query on the index).
EXPECTED_TABLE_ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    # name: (actions on the table, actions on the by-suite index)
    # validate's `collected` entry loads the run (GetItem)
    "validate": ({GET, PUT, UPDATE}, set()),
    # collect reads the run; the assembly (validate) records what the batches did
    "collect": ({GET}, set()),
    # submit takes a slot of the job pool (the pool's item is put once, conditionally)
    "submit": ({GET, PUT, UPDATE}, set()),
    "poll": ({GET, UPDATE}, set()),
    "stop": ({GET, UPDATE}, set()),
    # parse's review reads the baseline (Query) and the texts of the records it shows (BatchGetItem)
    "parse": ({GET, UPDATE, BATCH_WRITE, QUERY, BATCH_GET}, {QUERY}),
    "notify": ({GET, UPDATE}, set()),
    "record_error": ({GET, PUT, UPDATE}, set()),
    "reconcile": ({GET, PUT, UPDATE}, set()),
    "sync_schedules": (set(), set()),
}
PUBLISHERS = {"notify", "reconcile", "sync_schedules"}


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_each_function_gets_exactly_the_table_actions_its_code_uses(synth: Synth, name: str) -> None:
    # Given the function's grants
    grants = _grants(synth, name)
    table_actions, index_actions = EXPECTED_TABLE_ACTIONS[name]
    # Then the table: exactly the actions of its calls, never DeleteItem, Scan or the other batch calls
    assert {a for a in grants.get(TABLE, set()) if a.startswith("dynamodb:")} == table_actions
    # And the by-suite index by its name, only for the history query (no index/* wildcard)
    assert grants.get(f"{TABLE}/index/by-suite", set()) == index_actions
    assert not any(resource.startswith(f"{TABLE}/") and resource.endswith("*") for resource in grants)
    # And no DynamoDB action on anything else
    assert all(
        not action.startswith("dynamodb:")
        for resource, actions in grants.items()
        if not resource.startswith(TABLE)
        for action in actions
    )


@pytest.mark.parametrize("name", list(EXPECTED_ACCESS))
def test_least_privilege_per_function(synth: Synth, name: str) -> None:
    grants = _grants(synth, name)
    prefixes, job_actions = EXPECTED_ACCESS[name]

    # Objects: only the prefixes of its state, read-only except what it writes.
    objects = {
        resource.removeprefix(f"{BUCKET}/") for resource in grants if resource.startswith(f"{BUCKET}/")
    }
    writes = EXPECTED_WRITES.get(name, set())
    assert objects == prefixes | writes
    assert all("s3:PutObject" not in grants[f"{BUCKET}/{prefix}"] for prefix in prefixes - writes)
    assert all("s3:PutObject" in grants[f"{BUCKET}/{prefix}"] for prefix in writes)
    assert all("s3:GetObject" not in grants[f"{BUCKET}/{prefix}"] for prefix in writes)
    assert not any(a.startswith("s3:Delete") for actions in grants.values() for a in actions)
    # Bedrock: only its own job actions, on evaluation jobs only.
    bedrock = {action for actions in grants.values() for action in actions if action.startswith("bedrock:")}
    assert bedrock == job_actions
    if job_actions:
        assert grants[JOBS] == job_actions
    # Passing the service role: submit only, and only that role.
    passes = {resource for resource, actions in grants.items() if "iam:PassRole" in actions}
    assert passes == ({f"<{constants.BEDROCK_ROLE_LOGICAL_ID}.Arn>"} if name == "submit" else set())
    # Publishing: notify and reconcile only (of these).
    publishes = {resource for resource, actions in grants.items() if "sns:Publish" in actions}
    assert publishes == ({f"<{constants.TOPIC_LOGICAL_ID}>"} if name in PUBLISHERS else set())


def test_the_bedrock_role_is_passed_to_bedrock_only(synth: Synth) -> None:
    # Given submit's PassRole statement
    role = role_of_function(synth, FUNCTIONS["submit"])
    [pass_role] = [s for s in statements(policy_of_role(synth, role)) if "iam:PassRole" in s["Action"]]
    # Then it names the Bedrock role and only lets it be passed to Bedrock
    assert pass_role["Action"] == ["iam:PassRole"]
    assert [render(r) for r in pass_role["Resource"]] == [f"<{constants.BEDROCK_ROLE_LOGICAL_ID}.Arn>"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}


def test_a_customer_key_table_gives_its_functions_the_key_too(variant: Synth) -> None:
    # Given the variant, whose table is encrypted with the imported key
    for name in ("submit", "parse", "reconcile"):
        # Then each function using the table may use the key (CDK's table grants' actions)
        assert {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"} <= _grants(
            variant, name
        )[KEY_ARN]
    # And a function without the table gets no table key grant (only what publishing needs)
    assert "kms:Encrypt" not in _grants(variant, "sync_schedules").get(KEY_ARN, set())


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_the_error_path_functions_have_reserved_concurrency(synth: Synth, name: str) -> None:
    # Given the default errorPathReservedConcurrency (2)
    reserved = _props(synth, name).get("ReservedConcurrentExecutions")
    # Then RecordError, Notify (Notify and NotifyError) and Reconcile reserve 2; the others nothing
    assert reserved == (2 if name in constants.ERROR_PATH_FUNCTIONS else None)
    assert set(constants.ERROR_PATH_FUNCTIONS) == {"record_error", "notify", "reconcile"}


def test_zero_reserves_nothing(variant: Synth) -> None:
    # Given errorPathReservedConcurrency=0 (an account whose concurrency quota is 10 cannot reserve)
    functions = variant.resources("AWS::Lambda::Function").values()
    # Then no function reserves concurrency
    assert all("ReservedConcurrentExecutions" not in f["Properties"] for f in functions)


def test_submit_may_use_the_given_key_for_the_job(variant: Synth) -> None:
    grants = _grants(variant, "submit")
    assert {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"} <= grants[KEY_ARN]
