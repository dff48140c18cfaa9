"""The synthesized pipeline wired into moto from its template, without CloudFormation.

The resources a run touches (bucket, runs table, topic, functions, state machine) are created
with the properties the template gives them; every function gets the environment the template
gives it (intrinsics resolved to the moto resources) and runs in-process; the state machine is
the template's own definition. S3's EventBridge delivery is replaced by building the same
`Object Created` event a real upload produces and starting the execution with it.

Call `MotoPipeline.deploy` inside ``mock_aws(config=SFN_MOTO_CONFIG)`` with the in-process Lambda
runner and the Bedrock emulator installed (see `local.sfn_harness`, `local.inprocess_lambda`,
`local.bedrock_emulator`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from moto.stepfunctions.parser.utils import TMP_THREADS

from evalpipe.aws.runs_table import RunsTable
from infra import constants as c
from local.sfn_harness import (
    ExecutionResult,
    create_function,
    create_lambda_role,
    create_state_machine,
    definition_from_template,
    resolve_intrinsics,
    run_execution,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


@dataclass
class MotoPipeline:
    """One deployed copy of the pipeline in moto, and what a user does with it.

    Attributes
    ----------
    bucket, table_name, topic_arn, state_machine_arn
        The physical resources.
    function_arns
        Function logical id -> ARN.
    """

    template: dict[str, Any]
    bucket: str
    table_name: str
    topic_arn: str
    state_machine_arn: str
    function_arns: dict[str, str]
    subscriber_queue_url: str
    region: str = DEFAULT_REGION
    clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def deploy(
        cls,
        template: dict[str, Any],
        *,
        env_overrides: Mapping[str, str] | None = None,
        bucket: str = "evalpipe-local-bucket",
        region: str = DEFAULT_REGION,
    ) -> MotoPipeline:
        """Create the template's resources in moto and return the handle.

        Parameters
        ----------
        template
            The synthesized CloudFormation template (parsed JSON).
        env_overrides
            Environment values that replace the template's in every function that has them
            (e.g. ``POLL_INTERVAL_SECONDS`` so a local run polls every second).
        """
        clients = {
            name: boto3.client(name, region_name=region)
            for name in ("s3", "dynamodb", "sns", "sqs", "iam", "lambda", "stepfunctions")
        }
        resources = template["Resources"]

        clients["s3"].create_bucket(Bucket=bucket)
        # The template's bucket is versioned; the run identity relies on version ids.
        clients["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        table = resources[c.RUNS_TABLE_LOGICAL_ID]["Properties"]
        table_name = "evalpipe-runs"
        clients["dynamodb"].create_table(
            TableName=table_name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            GlobalSecondaryIndexes=[
                {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                for index in table.get("GlobalSecondaryIndexes", [])
            ],
            BillingMode=table.get("BillingMode", "PAY_PER_REQUEST"),
        )

        topic_arn = clients["sns"].create_topic(Name="evalpipe-alerts")["TopicArn"]
        queue_url = clients["sqs"].create_queue(QueueName="evalpipe-alerts-subscriber")["QueueUrl"]
        queue_arn = clients["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        clients["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

        role_arn = create_lambda_role(clients["iam"], name="evalpipe-local-role")
        values: dict[str, str] = {
            c.BUCKET_LOGICAL_ID: bucket,
            c.RUNS_TABLE_LOGICAL_ID: table_name,
            c.TOPIC_LOGICAL_ID: topic_arn,
            c.BEDROCK_ROLE_LOGICAL_ID: role_arn,
        }
        function_arns: dict[str, str] = {}
        # Only the state machine's functions: this copy has no S3 -> EventBridge rules (so no
        # SyncSchedules) and its environment names resources created here.
        definition_text = json.dumps(resources[c.STATE_MACHINE_LOGICAL_ID]["Properties"]["DefinitionString"])
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function" or f'"{logical_id}"' not in definition_text:
                continue
            properties = resource["Properties"]
            env = resolve_intrinsics(
                properties.get("Environment", {}).get("Variables", {}),
                values,
                where=f"{logical_id}.Environment",
            )
            env.update({k: v for k, v in (env_overrides or {}).items() if k in env})
            function_arns[logical_id] = create_function(
                clients["lambda"],
                logical_id,
                properties["Handler"],
                env,
                role_arn,
                timeout=int(properties.get("Timeout", 30)),
                memory_size=int(properties.get("MemorySize", 256)),
            )
        values.update(function_arns)
        definition = definition_from_template(template, c.STATE_MACHINE_LOGICAL_ID, values)
        machine_arn = create_state_machine(clients["stepfunctions"], "evalpipe", definition, role_arn)
        return cls(
            template=template,
            bucket=bucket,
            table_name=table_name,
            topic_arn=topic_arn,
            state_machine_arn=machine_arn,
            function_arns=function_arns,
            subscriber_queue_url=queue_url,
            region=region,
            clients=clients,
        )

    # --- what a user does ---------------------------------------------------------------------

    def upload_suite(self, suite: str, document: dict[str, Any] | bytes) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document, indent=2).encode()
        self.clients["s3"].put_object(Bucket=self.bucket, Key=f"{c.SUITES_PREFIX}{suite}.json", Body=body)

    def drop_dataset(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload a dataset and return the EventBridge event S3 sends for it."""
        response = self.clients["s3"].put_object(Bucket=self.bucket, Key=key, Body=body)
        return object_created_event(
            self.bucket,
            key,
            response.get("VersionId"),
            response["ETag"].strip('"'),
            len(body),
            region=self.region,
        )

    def run(self, event: dict[str, Any], timeout: float = 60) -> ExecutionResult:
        """Start the state machine with an event and wait for the execution to end."""
        return run_execution(self.clients["stepfunctions"], self.state_machine_arn, event, timeout=timeout)

    def stop_executions(self, timeout: float = 30) -> None:
        """Stop every running execution and wait for moto's execution threads to end.

        moto runs each execution on a daemon thread that outlives ``mock_aws()``: left running,
        a waiting execution wakes up in the next test's account (same names) and notifies there.
        """
        sfn = self.clients["stepfunctions"]
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
        )
        for page in pages:
            for execution in page["executions"]:
                sfn.stop_execution(executionArn=execution["executionArn"])
        deadline = time.monotonic() + timeout
        for thread in list(TMP_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- what a user sees ---------------------------------------------------------------------

    def runs(self) -> RunsTable:
        return RunsTable(boto3.resource("dynamodb", region_name=self.region).Table(self.table_name))

    def messages(self) -> list[dict[str, Any]]:
        """Notifications delivered to the topic's subscriber since the last call.

        Each: ``{message_id (SNS's MessageId, what a run records as notification_id), subject,
        message, attributes}``.
        """
        sqs = self.clients["sqs"]
        delivered = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.subscriber_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return delivered
            for message in batch:
                envelope = json.loads(message["Body"])
                delivered.append(
                    {
                        "message_id": envelope.get("MessageId"),
                        "subject": envelope.get("Subject"),
                        "message": envelope["Message"],
                        "attributes": {
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    }
                )
                sqs.delete_message(QueueUrl=self.subscriber_queue_url, ReceiptHandle=message["ReceiptHandle"])


def object_created_event(
    bucket: str, key: str, version_id: str | None, etag: str, size: int, *, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The `Object Created` event S3 publishes to EventBridge for a PutObject."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": f"local-{etag[:8]}",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": DEFAULT_ACCOUNT,
        "time": now,
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "version-id": version_id, "sequencer": "0"},
            "request-id": "local",
            "requester": DEFAULT_ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }
