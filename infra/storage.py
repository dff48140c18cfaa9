"""Where the pipeline keeps data: the bucket (suites, datasets, results, reports) and the runs table."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.naming import pin_logical_id


class Storage(Construct):
    """The evaluation bucket, its access-log bucket and the runs table, all retained on delete.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    encryption_key
        A customer managed key for the bucket and table; ``None`` uses S3-managed keys for the
        bucket and an AWS managed key for the table.

    Attributes
    ----------
    bucket : s3.Bucket
        ``suites/``, ``datasets/``, ``results/`` and ``reports/``; sends events to EventBridge.
    access_logs_bucket : s3.Bucket
        Receives the server access logs of ``bucket``.
    table : dynamodb.Table
        Runs and per-record scores (``pk``/``sk``), GSI ``by-suite`` (``gsi1pk``/``gsi1sk``).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = encryption_key
        self.access_logs_bucket = self._build_access_logs_bucket()
        self.bucket = self._build_bucket()
        self.table = self._build_table()

    def _build_access_logs_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            # Server access logging only delivers to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
        )
        pin_logical_id(bucket, constants.ACCESS_LOGS_BUCKET_LOGICAL_ID)
        return bucket

    def _build_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if self._key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self._key,
            bucket_key_enabled=bool(self._key),  # fewer KMS calls per object
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="evaluation-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tidy-versions-and-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(90),
                )
            ],
        )
        cfn_bucket = cast("s3.CfnBucket", pin_logical_id(bucket, constants.BUCKET_LOGICAL_ID))
        # The bucket's own EventBridge switch, instead of `event_bridge_enabled=True`: that flag
        # deploys a custom-resource Lambda (with a managed policy) to flip the same setting.
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        return bucket

    def _build_table(self) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "RunsTable",
            partition_key=dynamodb.Attribute(
                name=constants.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=constants.TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=(
                dynamodb.TableEncryption.CUSTOMER_MANAGED
                if self._key
                else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        table.add_global_secondary_index(
            index_name=constants.SUITE_INDEX_NAME,
            partition_key=dynamodb.Attribute(
                name=constants.SUITE_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=constants.SUITE_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        pin_logical_id(table, constants.RUNS_TABLE_LOGICAL_ID)
        return table
