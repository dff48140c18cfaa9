"""CreateEvaluationJob request: exact parameters, botocore's model, no mutation of the suite."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.stub import Stubber

from evalpipe.run.triggers import DatasetObject, RunRequest, TriggerKind
from evalpipe.suite import Suite, SuiteError
from evalpipe.suite.job_request import build_create_job_request, sanitize_tag_value
from tests.builders import JUDGE, custom_metric, judge_suite

ROLE_ARN = "arn:aws:iam::123456789012:role/evalpipe-bedrock"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghijkl"
INSTRUCTIONS = "Ask before acting? N/A if no action.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}"


def _guide_document() -> dict[str, Any]:
    """The practitioner's guide eval-config.json (with `metricName`) pasted into a suite."""
    return judge_suite(
        schema="../../schema/suite.schema.json",
        application_type=None,
        dataset="my-eval-dataset",
        dataset_location="s3://your-bucket/datasets/collected-responses.jsonl",
        custom=[custom_metric(instructions=INSTRUCTIONS, name_key="metricName")],
        pipeline={
            "description": "Support assistant, nightly grading",
            "jobTags": {"team": "support", "cost-center": "Équipe #7"},
        },
    )


def _dataset(key: str = "datasets/support/week-12.jsonl") -> DatasetObject:
    return DatasetObject(
        bucket="evalpipe-data-123456789012",
        key=key,
        version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        etag="d41d8cd98f00b204e9800998ecf8427e",
        size=2048,
        event_time=datetime(2025, 5, 3, 4, 5, 6, tzinfo=UTC),
    )


def _suite(document: dict[str, Any] | None = None, name: str = "support") -> Suite:
    return Suite.from_document(name, document if document is not None else _guide_document())


def _build(suite: Suite, dataset: DatasetObject | None = None, **kwargs: Any) -> dict[str, Any]:
    dataset = dataset or _dataset()
    return build_create_job_request(
        suite,
        dataset,
        role_arn=ROLE_ARN,
        output_s3_uri=f"s3://{dataset.bucket}/results/{suite.name}/{dataset.run_id}/",
        **kwargs,
    )


def _bedrock_client() -> Any:
    # Credentials are never used: the Stubber answers before anything is signed or sent.
    return botocore.session.get_session().create_client(
        "bedrock", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _model_violations(shape: Shape, value: Any, path: str = "") -> list[str]:
    """What botocore's ParamValidator leaves to the service: patterns and maximum lengths.

    Enums are not checked: the service accepts taskType "General" although the model's enum
    omits it (docs: bedrock-evaluation-facts.md, trap 1).
    """
    found: list[str] = []
    if shape.type_name == "structure":
        for key, item in value.items():
            found += _model_violations(shape.members[key], item, f"{path}.{key}" if path else key)
    elif shape.type_name == "list":
        if len(value) > shape.metadata.get("max", len(value)):
            found.append(f"{path}: more than {shape.metadata['max']} items")
        for index, item in enumerate(value):
            found += _model_violations(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "string":
        if len(value) > shape.metadata.get("max", len(value)):
            found.append(f"{path}: longer than {shape.metadata['max']}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            found.append(f"{path}: {value!r} does not match {pattern}")
    return found


def _assert_accepted_by_botocore(request: dict[str, Any]) -> None:
    """The request passes the client's ParamValidator, the Stubber's exact-params check, and
    the model's patterns / maximum lengths."""
    client = _bedrock_client()
    with Stubber(client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_params=request)
        response = client.create_evaluation_job(**request)
        stubber.assert_no_pending_responses()
    assert response["jobArn"] == JOB_ARN
    input_shape = client.meta.service_model.operation_model("CreateEvaluationJob").input_shape
    assert _model_violations(input_shape, request) == []


def _keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys_anywhere(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys_anywhere(item)}
    return set()


# --- the request --------------------------------------------------------------------------


def test_request_fills_in_everything_that_depends_on_the_object() -> None:
    # Given the guide's config pasted into suite "support" and a dataset dropped for it
    suite = _suite()
    dataset = _dataset()

    # When the request is built
    request = _build(suite, dataset)

    # Then it is exactly the suite's API members plus the pipeline-owned fields
    run_id = "support-20250503-040506-" + dataset.fingerprint[:8]
    assert dataset.run_id == run_id
    assert request == {
        "jobName": run_id,
        "jobDescription": "Support assistant, nightly grading",
        "clientRequestToken": dataset.fingerprint[:64],
        "roleArn": ROLE_ARN,
        "jobTags": [
            {"key": "evalpipe:suite", "value": "support"},
            {"key": "evalpipe:run-id", "value": run_id},
            {"key": "cost-center", "value": "Equipe _7"},
            {"key": "team", "value": "support"},
        ],
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {
                            "name": "my-eval-dataset",
                            "datasetLocation": {
                                "s3Uri": "s3://evalpipe-data-123456789012/datasets/support/week-12.jsonl"
                            },
                        },
                        "metricNames": ["Builtin.Helpfulness", "Builtin.Correctness", "confirmation_check"],
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
                "customMetricConfig": {
                    "customMetrics": [
                        {
                            "customMetricDefinition": {
                                "name": "confirmation_check",
                                "instructions": INSTRUCTIONS,
                                "ratingScale": [
                                    {"definition": "N/A", "value": {"floatValue": -1}},
                                    {"definition": "Poor", "value": {"floatValue": 0}},
                                    {"definition": "Good", "value": {"floatValue": 1}},
                                ],
                            }
                        }
                    ],
                    "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
                },
            }
        },
        "inferenceConfig": {
            "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "my-app-v1"}}]
        },
        "outputDataConfig": {"s3Uri": f"s3://evalpipe-data-123456789012/results/support/{run_id}/"},
    }


def test_request_is_accepted_by_botocore() -> None:
    # Given the request for the guide's config
    request = _build(_suite())

    # When it is sent through a stubbed bedrock client, then botocore validates and passes it
    _assert_accepted_by_botocore(request)


def test_request_never_carries_the_guides_metric_name_key() -> None:
    # Given a suite written with `metricName`; when the request is built
    request = _build(_suite())

    # Then only the API's `name` is sent (botocore would reject `metricName` as unknown)
    assert "metricName" not in _keys_anywhere(request)
    definition = request["evaluationConfig"]["automated"]["customMetricConfig"]["customMetrics"][0]
    assert definition["customMetricDefinition"]["name"] == "confirmation_check"


def test_building_does_not_mutate_or_share_the_suite() -> None:
    # Given a suite and a snapshot of it
    suite = _suite()
    before = copy.deepcopy(suite.model_dump())

    # When a request is built and then changed by its caller
    request = _build(suite)
    request["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"].clear()
    request["inferenceConfig"]["models"].clear()

    # Then the suite is what it was
    assert suite.model_dump() == before
    assert suite.metric_names == ["Builtin.Helpfulness", "Builtin.Correctness", "confirmation_check"]


def test_the_same_object_gives_the_same_job_name_and_token() -> None:
    # Given the same object version delivered twice; when both requests are built
    first, second = _build(_suite(), _dataset()), _build(_suite(), _dataset())

    # Then they are identical (Bedrock treats the token as one request)
    assert first == second


# --- dataset name and location ------------------------------------------------------------


def _without_dataset_name(document: dict[str, Any]) -> dict[str, Any]:
    del document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"]
    return document


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("datasets/support/week-12.jsonl", "week-12"),
        ("datasets/support/golden_set.v2.jsonl", "golden_set.v2"),
        ("datasets/support/week 12 (final).jsonl", "week-12-final"),
        ("datasets/support/résumé+notes.jsonl", "r-sum-notes"),
        ("datasets/support/" + "a" * 70 + ".jsonl", "a" * 63),
        ("datasets/support/" + "b" * 62 + "--c.jsonl", "b" * 62),
        ("datasets/support/###.jsonl", "dataset"),
    ],
)
def test_without_a_suite_dataset_name_the_file_name_is_made_valid(key: str, name: str) -> None:
    # Given a suite that names no dataset, and a dataset file name
    suite = _suite(_without_dataset_name(_guide_document()))

    # When the request is built
    dataset = _build(suite, _dataset(key))["evaluationConfig"]["automated"]["datasetMetricConfigs"][0][
        "dataset"
    ]

    # Then the dataset name is the file name reduced to [0-9a-zA-Z-_.]{1,63}
    assert dataset["name"] == name
    assert re.fullmatch(r"[0-9a-zA-Z._-]{1,63}", dataset["name"])


def test_dataset_without_name_in_suite_is_accepted_by_botocore() -> None:
    # Given a suite with no dataset object at all
    suite = _suite(_without_dataset_name(_guide_document()))

    # When the request is built, then the pipeline-made dataset object is valid
    request = _build(suite, _dataset("datasets/support/week-12.jsonl"))
    assert request["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"] == {
        "name": "week-12",
        "datasetLocation": {"s3Uri": "s3://evalpipe-data-123456789012/datasets/support/week-12.jsonl"},
    }
    _assert_accepted_by_botocore(request)


def test_placeholder_location_in_the_suite_is_replaced() -> None:
    # Given the guide's placeholder s3Uri in the suite
    suite = _suite()

    # When the request is built, then the dropped object's location is sent instead
    location = _build(suite)["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"][
        "datasetLocation"
    ]
    assert location == {"s3Uri": "s3://evalpipe-data-123456789012/datasets/support/week-12.jsonl"}


@pytest.mark.parametrize("entries", [[], None, "x"])
def test_a_suite_without_one_dataset_metric_config_cannot_be_built(entries: Any) -> None:
    # Given a suite whose dataset metric configs are missing or empty
    document = _guide_document()
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"] = entries

    # When the request is built, then the suite is reported
    with pytest.raises(SuiteError, match=r"datasetMetricConfigs must hold at least one entry"):
        _build(_suite(document))


def test_a_suite_with_two_custom_dataset_metric_configs_cannot_be_built() -> None:
    # Given a suite naming two custom dataset metric configs (the pipeline fills in only one)
    document = _guide_document()
    entries = document["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    entries.append(copy.deepcopy(entries[0]))

    # When the request is built, then it is refused
    with pytest.raises(SuiteError, match=r"holds 2 custom datasets; the dropped object fills only one"):
        _build(_suite(document))


# --- built-in datasets and run requests -----------------------------------------------------

BUILTIN_ENTRIES = [
    {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "Builtin.BoolQ"},
        "metricNames": ["Builtin.Accuracy", "Builtin.Robustness"],
    },
    {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "Builtin.TriviaQA"},
        "metricNames": ["Builtin.Accuracy", "Builtin.Toxicity"],
    },
]


def _builtin_document() -> dict[str, Any]:
    """A classic automated suite of built-in datasets only, answered live by a model."""
    return {
        "evaluationConfig": {"automated": {"datasetMetricConfigs": copy.deepcopy(BUILTIN_ENTRIES)}},
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
        "pipeline": {"schedule": {"expression": "rate(7 days)"}},
    }


def _request(kind: TriggerKind = TriggerKind.SCHEDULE, request_id: str = "d32c5kddcf5bb8c3") -> RunRequest:
    return RunRequest(
        suite_name="qa-weekly",
        requested_by=kind,
        request_id=request_id,
        request_time=datetime(2026, 3, 2, 6, 0, 0, tzinfo=UTC),
        bucket="evalpipe-data-123456789012",
    )


def test_a_suite_of_built_in_datasets_is_sent_unchanged_for_a_run_request() -> None:
    # Given a suite naming only Builtin.BoolQ and Builtin.TriviaQA, and a scheduled run request
    suite, request = _suite(_builtin_document(), name="qa-weekly"), _request()

    # When the request is built
    built = build_create_job_request(
        suite,
        request,
        role_arn=ROLE_ARN,
        output_s3_uri=f"s3://evalpipe-data-1/results/qa-weekly/{request.run_id}/",
    )

    # Then both entries are exactly the suite's (no datasetLocation), and the identity is the request's
    assert built["evaluationConfig"]["automated"]["datasetMetricConfigs"] == BUILTIN_ENTRIES
    assert built["jobName"] == request.run_id
    assert built["clientRequestToken"] == request.client_request_token
    assert built["jobTags"][:2] == [
        {"key": "evalpipe:suite", "value": "qa-weekly"},
        {"key": "evalpipe:run-id", "value": request.run_id},
    ]
    _assert_accepted_by_botocore(built)


def test_only_the_custom_entry_gets_the_dropped_object() -> None:
    # Given a suite with a built-in entry before its one custom entry (no dataset name)
    document = _builtin_document()
    del document["pipeline"]
    custom = {"taskType": "QuestionAndAnswer", "metricNames": ["Builtin.Accuracy"]}
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"] = [
        copy.deepcopy(BUILTIN_ENTRIES[0]),
        custom,
    ]

    # When a dropped dataset's request is built
    built = _build(_suite(document))

    # Then the built-in entry is untouched and the custom one names the dropped file
    first, second = built["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    assert first == BUILTIN_ENTRIES[0]
    assert second["dataset"] == {
        "name": "week-12",
        "datasetLocation": {"s3Uri": "s3://evalpipe-data-123456789012/datasets/support/week-12.jsonl"},
    }


def test_a_run_request_cannot_fill_a_custom_dataset() -> None:
    # Given the guide's suite (a custom dataset) and a run request
    # When the request is built, then the missing dataset object is named
    with pytest.raises(SuiteError, match=r"names a custom dataset: only a dropped dataset object runs it"):
        build_create_job_request(
            _suite(), _request(TriggerKind.CLI), role_arn=ROLE_ARN, output_s3_uri="s3://b/r/"
        )


def test_a_dropped_object_cannot_fill_a_suite_of_built_in_datasets() -> None:
    # Given a suite of built-in datasets only and a dropped dataset object
    # When the request is built, then it is refused
    with pytest.raises(SuiteError, match=r"names only built-in datasets"):
        _build(_suite(_builtin_document(), name="support"))


# --- optional members ---------------------------------------------------------------------


def test_kms_key_is_sent_only_when_given() -> None:
    # Given the same suite built with and without a key
    suite = _suite()

    # Then the key appears only when given, and the keyed request is valid
    assert "customerEncryptionKeyId" not in _build(suite)
    assert "customerEncryptionKeyId" not in _build(suite, kms_key_id=None)
    assert "customerEncryptionKeyId" not in _build(suite, kms_key_id="")
    keyed = _build(suite, kms_key_id=KMS_KEY)
    assert keyed["customerEncryptionKeyId"] == KMS_KEY
    _assert_accepted_by_botocore(keyed)


def test_description_defaults_to_the_suite_name() -> None:
    # Given a suite without a description; when built; then the default names the suite
    document = _guide_document()
    del document["pipeline"]["description"]
    assert _build(_suite(document))["jobDescription"] == "evalpipe run of suite support"


def test_suite_without_job_tags_gets_the_pipeline_tags_only() -> None:
    # Given a suite without jobTags; when built
    document = _guide_document()
    del document["pipeline"]
    dataset = _dataset()

    # Then only the pipeline's two tags are sent
    assert _build(_suite(document), dataset)["jobTags"] == [
        {"key": "evalpipe:suite", "value": "support"},
        {"key": "evalpipe:run-id", "value": dataset.run_id},
    ]


def test_suite_tags_follow_the_pipeline_tags_sorted_by_key() -> None:
    # Given tags in no particular order
    document = _guide_document()
    document["pipeline"]["jobTags"] = {"zeta": "1", "Alpha": "2", "beta": "", "a b": "x"}

    # When built, then they come after the pipeline's tags in code-point order of their keys
    tags = _build(_suite(document))["jobTags"]
    assert [tag["key"] for tag in tags] == [
        "evalpipe:suite",
        "evalpipe:run-id",
        "Alpha",
        "a b",
        "beta",
        "zeta",
    ]
    assert tags[4] == {"key": "beta", "value": ""}


@pytest.mark.parametrize(
    ("value", "sanitized"),
    [
        ("support", "support"),
        ("a.b_c:d/e=f+g@h-i j", "a.b_c:d/e=f+g@h-i j"),
        ("Équipe #7", "Equipe _7"),
        ("naïve café", "naive cafe"),
        ("50% off!", "50_ off_"),
        ("emoji 🚀", "emoji _"),
        ("", ""),
        ("x" * 300, "x" * 256),
    ],
)
def test_tag_values_are_sanitized_to_the_tag_value_pattern(value: str, sanitized: str) -> None:
    # Given a tag value; when sanitized; then it matches TagValue and is at most 256 characters
    assert sanitize_tag_value(value) == sanitized
    assert re.fullmatch(r"[a-zA-Z0-9\s._:/=+@-]{0,256}", sanitize_tag_value(value))


def test_request_with_odd_tag_values_is_accepted_by_botocore() -> None:
    # Given tags whose values need sanitizing
    document = _guide_document()
    document["pipeline"]["jobTags"] = {"owner": "Zoë <zoe@example.com>", "long": "y" * 400}

    # When built, then every value fits the model
    _assert_accepted_by_botocore(_build(_suite(document)))
