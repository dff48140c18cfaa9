"""Where the pipeline keeps data: the evaluation bucket and its lifecycle, and the runs table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from infra.settings import PipelineSettings

# Uploads that never completed only cost money.
ABORT_INCOMPLETE_UPLOADS = Duration.days(7)


@dataclass(frozen=True)
class BucketLifecycle:
    """How long the bucket keeps what the pipeline writes, in days after writing (0 = never).

    Attributes
    ----------
    inputs_days
        ``inputs/``: each run's copy of its dataset (read by the job and parse only).
    results_days, reports_days
        ``results/`` (the jobs' output) and ``reports/`` (HTML reports). Baselines and comparisons
        read the runs table, not these: they are kept to look into past runs.
    datasets_days
        ``datasets/``: the user's uploads.
    noncurrent_days
        Every noncurrent version (an overwritten or expired object) of any prefix.
    """

    inputs_days: int
    results_days: int
    reports_days: int
    datasets_days: int
    noncurrent_days: int

    @classmethod
    def of(cls, settings: PipelineSettings) -> BucketLifecycle:
        """The lifecycle the deployment's settings ask for."""
        return cls(
            inputs_days=settings.inputs_expiration_days,
            results_days=settings.results_expiration_days,
            reports_days=settings.reports_expiration_days,
            datasets_days=settings.datasets_expiration_days,
            noncurrent_days=settings.noncurrent_version_expiration_days,
        )

    def rules(self) -> list[s3.LifecycleRule]:
        """The bucket's lifecycle rules: one per prefix that expires, and one that tidies up."""
        tidy = s3.LifecycleRule(
            id="tidy-versions-and-uploads",
            abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS,
            noncurrent_version_expiration=Duration.days(self.noncurrent_days)
            if self.noncurrent_days
            else None,
            # A delete marker left with no version behind it (after the noncurrent versions expired).
            expired_object_delete_marker=True,
        )
        prefixes = {
            constants.INPUTS_PREFIX: self.inputs_days,
            constants.RESULTS_PREFIX: self.results_days,
            constants.REPORTS_PREFIX: self.reports_days,
            constants.DATASETS_PREFIX: self.datasets_days,
        }
        expiring = [
            s3.LifecycleRule(id=f"expire-{prefix.rstrip('/')}", prefix=prefix, expiration=Duration.days(days))
            for prefix, days in prefixes.items()
            if days
        ]
        return [tidy, *expiring]


class Storage(Construct):
    """The evaluation bucket, its access-log bucket and the runs table, all retained on delete.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    lifecycle
        When the bucket's objects expire (see `BucketLifecycle`).
    encryption_key
        A customer managed key for the bucket and table; ``None`` uses S3-managed keys for the
        bucket and an AWS managed key for the table.
    table_deletion_protection
        Deletion protection of the runs table (on unless a throw-away stack turns it off).

    Attributes
    ----------
    bucket : s3.Bucket
        ``suites/``, ``datasets/``, ``inputs/``, ``results/`` and ``reports/``; sends events to
        EventBridge.
    access_logs_bucket : s3.Bucket
        Receives the server access logs of ``bucket``.
    table : dynamodb.Table
        Runs and per-record scores (``pk``/``sk``), GSI ``by-suite`` (``gsi1pk``/``gsi1sk``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lifecycle: BucketLifecycle,
        encryption_key: kms.IKey | None = None,
        table_deletion_protection: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = encryption_key
        self._lifecycle = lifecycle
        self._table_deletion_protection = table_deletion_protection
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
            lifecycle_rules=self._lifecycle.rules(),
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
            deletion_protection=self._table_deletion_protection,
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
