"""Bucket and runs table: secure defaults and the keys of docs/design.md."""

from __future__ import annotations

import pytest

from infra import constants
from infra.settings import PipelineSettings
from infra.storage import BucketLifecycle
from tests.infra.conftest import KEY_ARN, Synth, render, statements


def test_bucket_blocks_public_access_is_versioned_and_retained(synth: Synth) -> None:
    bucket = synth.resource(constants.BUCKET_LOGICAL_ID)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_bucket_sends_events_to_eventbridge_without_a_custom_resource(synth: Synth) -> None:
    props = synth.resource(constants.BUCKET_LOGICAL_ID)["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    synth.template.resource_count_is("Custom::S3BucketNotifications", 0)


def test_bucket_is_s3_managed_encrypted_by_default(synth: Synth) -> None:
    encryption = synth.resource(constants.BUCKET_LOGICAL_ID)["Properties"]["BucketEncryption"]
    assert encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


def test_bucket_uses_the_given_kms_key(variant: Synth) -> None:
    rule = variant.resource(constants.BUCKET_LOGICAL_ID)["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}
    assert rule["BucketKeyEnabled"] is True


def test_bucket_policy_denies_requests_without_tls(synth: Synth) -> None:
    policies = [
        policy
        for policy in synth.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": constants.BUCKET_LOGICAL_ID}
    ]
    assert len(policies) == 1
    deny = [s for s in statements(policies[0]) if s["Effect"] == "Deny"]
    assert deny and deny[0]["Action"] == ["s3:*"]
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {render(r) for r in deny[0]["Resource"]} == {
        f"<{constants.BUCKET_LOGICAL_ID}.Arn>",
        f"<{constants.BUCKET_LOGICAL_ID}.Arn>/*",
    }


def test_bucket_access_logs_go_to_a_separate_tls_only_bucket(synth: Synth) -> None:
    logging = synth.resource(constants.BUCKET_LOGICAL_ID)["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": constants.ACCESS_LOGS_BUCKET_LOGICAL_ID}
    logs_bucket = synth.resource(constants.ACCESS_LOGS_BUCKET_LOGICAL_ID)
    assert logs_bucket["DeletionPolicy"] == "Retain"
    assert logs_bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    # Server access logging delivers only to SSE-S3 buckets, through a bucket policy (no ACLs).
    encryption = logs_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (policy,) = [
        policy
        for policy in synth.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": constants.ACCESS_LOGS_BUCKET_LOGICAL_ID}
    ]
    by_effect = {s["Effect"]: s for s in statements(policy)}
    assert by_effect["Deny"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allow = by_effect["Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == ["s3:PutObject"]
    assert render(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == f"<{constants.BUCKET_LOGICAL_ID}.Arn>"


def test_runs_table_matches_the_design(synth: Synth) -> None:
    table = synth.resource(constants.RUNS_TABLE_LOGICAL_ID)
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"} for name in ("gsi1pk", "gsi1sk", "pk", "sk")
    ]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-suite",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_runs_table_has_deletion_protection_unless_a_throw_away_stack_turns_it_off(
    synth: Synth, variant: Synth
) -> None:
    # Given the defaults, then -c tableDeletionProtection=false (the variant)
    assert synth.resource(constants.RUNS_TABLE_LOGICAL_ID)["Properties"]["DeletionProtectionEnabled"] is True
    assert (
        variant.resource(constants.RUNS_TABLE_LOGICAL_ID)["Properties"]["DeletionProtectionEnabled"] is False
    )


def _lifecycle(synth: Synth) -> dict[str, dict]:
    rules = synth.resource(constants.BUCKET_LOGICAL_ID)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    return {rule["Id"]: rule for rule in rules}


def test_bucket_lifecycle_defaults_keep_history_for_baselines(synth: Synth) -> None:
    # Given cdk.json's lifecycle settings
    rules = _lifecycle(synth)
    # Then the runs' dataset copies go after 40 days (past the 35-day state machine time-out),
    # results and reports after 400 days, datasets never, noncurrent versions after 30 days
    assert {
        rule_id: (rule.get("Prefix"), rule.get("ExpirationInDays")) for rule_id, rule in rules.items()
    } == {
        "tidy-versions-and-uploads": (None, None),
        "expire-inputs": ("inputs/", 40),
        "expire-results": ("results/", 400),
        "expire-reports": ("reports/", 400),
    }
    tidy = rules["tidy-versions-and-uploads"]
    assert tidy["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert tidy["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert tidy["ExpiredObjectDeleteMarker"] is True
    # suites/ and sources/ never expire: no rule names them
    assert not any(rule.get("Prefix") in ("suites/", "sources/") for rule in rules.values())


def test_bucket_lifecycle_follows_the_settings_and_zero_means_never(variant: Synth) -> None:
    # Given inputs 0, results 90, reports 0, datasets 365, noncurrent versions 0
    rules = _lifecycle(variant)
    # Then only results/ and datasets/ expire, and noncurrent versions are kept
    assert {rule.get("Prefix"): rule.get("ExpirationInDays") for rule in rules.values()} == {
        None: None,
        "results/": 90,
        "datasets/": 365,
    }
    assert "NoncurrentVersionExpiration" not in rules["tidy-versions-and-uploads"]


def test_the_lifecycle_defaults_are_the_settings_defaults() -> None:
    assert BucketLifecycle.of(PipelineSettings()) == BucketLifecycle(
        inputs_days=40, results_days=400, reports_days=400, datasets_days=0, noncurrent_days=30
    )


@pytest.mark.parametrize("days", [1, 30, 35])
def test_a_copy_that_could_expire_under_a_running_execution_is_refused(days: int) -> None:
    # The job and parse of a human run read inputs/ until the 35-day state machine time-out
    with pytest.raises(ValueError, match="inputsExpirationDays"):
        PipelineSettings.model_validate({"inputsExpirationDays": days})
    assert PipelineSettings.model_validate({"inputsExpirationDays": 36}).inputs_expiration_days == 36


def test_runs_table_encryption_is_aws_managed_or_the_given_key(synth: Synth, variant: Synth) -> None:
    # AWS managed: SSEEnabled with no key id (owned-key tables carry no SSESpecification).
    assert synth.resource(constants.RUNS_TABLE_LOGICAL_ID)["Properties"]["SSESpecification"] == {
        "SSEEnabled": True
    }
    assert variant.resource(constants.RUNS_TABLE_LOGICAL_ID)["Properties"]["SSESpecification"] == {
        "KMSMasterKeyId": KEY_ARN,
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
