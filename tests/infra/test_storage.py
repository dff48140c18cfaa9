"""Bucket and runs table: secure defaults and the keys of docs/design.md."""

from __future__ import annotations

from infra import constants
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
