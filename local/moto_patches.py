"""Every change to moto 5.2.1 internals that the local mode and the tests need, in one place.

`install()` (idempotent) applies all of them; `uninstall()` restores moto. Each patch says why
where it is defined. ``tests/integration/local_mode/`` (and
``tests/integration/workflow/test_moto_patches.py``) fail loudly when a moto upgrade moves or
fixes what a patch relies on, instead of letting the local mode drift silently: a "why" test
shows the defect in moto as released, a "with the patch" test the behaviour relied on.

What `install()` does:

1. Step Functions (ASL engine): a state machine clone at StartExecution drops past executions;
   a StartExecution without a ``name`` gets a UUID, as in AWS (moto's engine names it ``None``,
   its ARN ends in ``:None`` and DescribeExecution has no ``name``).
2. Lambda: every invocation runs the function's handler in this process from its deployed zip
   (`local.inprocess_lambda`, resolver -> None); moto would start a Docker container.
3. Bedrock: the evaluation-job routes of `local.bedrock_emulator` (moto has none).
4. CloudFormation:
   a. ``AWS::StepFunctions::StateMachine`` is created in the backend that executes ASL when
      ``execute_state_machine`` is on (moto always uses the one that never runs executions);
   b. ``AWS::S3::Bucket`` applies ``VersioningConfiguration`` and
      ``NotificationConfiguration.EventBridgeConfiguration`` (moto ignores both);
   c. ``AWS::KMS::Key`` accepts CloudFormation's ``Tags`` (Key/Value) and a ``KeyPolicy`` object;
   d. ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy``, ``AWS::SQS::QueuePolicy`` and
      ``AWS::CloudWatch::Alarm`` exist (moto skips them: DescribeStackResources lists them with
      no id or type, a Ref to them is empty); the bucket policy is recorded, not enforced;
   e. custom resources (``Custom::*``): properties reach the handler as strings, as CloudFormation
      sends them, and the ResponseURL points at this server (moto aims at a Docker host);
   f. ``AWS::Scheduler::ScheduleGroup`` creates the group in moto's scheduler (Ref = name,
      ``Fn::GetAtt Arn``) and ``AWS::Lambda::EventInvokeConfig`` sets the function's asynchronous
      invocation config (moto's CloudFormation knows neither type);
   g. ``AWS::Lambda::Permission`` gets a physical resource id (moto's has none, so
      DescribeStackResources lists it without ``PhysicalResourceId``).
5. EventBridge: rule targets that are state machines start an execution with the event (moto
   raises NotImplementedError, which S3's delivery then swallows); Lambda targets are invoked
   asynchronously (a thread), retried per the function's EventInvokeConfig and, when every
   attempt failed, recorded on its on-failure SQS destination; a disabled rule delivers nothing.
6. S3 -> EventBridge: the ``Object Created`` event has the real shape (``etag``, ``reason``
   ``PutObject``, a fresh ``id``, ``version-id`` only for versioned objects) and goes to the
   default bus only; a PutObject no longer also announces "Object Tags Added"; a delivery
   error is logged instead of swallowed. A DeleteObject on a versioned bucket (a delete marker)
   sends ``Object Deleted`` (``deletion-type`` ``Delete Marker Created``), which moto never sends.
7. Step Functions -> EventBridge: when an execution of a Standard state machine ends (SUCCEEDED,
   FAILED, TIMED_OUT or ABORTED, a StopExecution included), the "Step Functions Execution Status
   Change" event (source ``aws.states``) goes to the default bus, as Step Functions sends it; moto
   sends none, so a rule on it (the pipeline's reconcile rule) would never fire.

moto's EventBridge Scheduler stores schedules but never fires them; `local.scheduler` is the local
stand-in that fires one (``LocalDeployment.fire_schedule``).

Not patched, only configured (`local.server`): ``execute_state_machine`` in moto's
``default_user_config`` (read by the StepFunctions API at every request) and ``MOTO_PORT`` (the
port the ASL engine's boto3 client uses to call Lambda).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.awslambda.models import Permission as LambdaPermission
from moto.cloudformation import parsing as moto_cfn_parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import unix_time
from moto.events import models as moto_events
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.kms.models import Key
from moto.s3 import notifications as moto_s3_notifications
from moto.s3.models import FakeBucket, FakeDeleteMarker, S3Backend
from moto.scheduler.models import scheduler_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import StateMachine, StateMachineInstance
from moto.stepfunctions.parser.api import HistoryEventType
from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import get_backend as sfn_get_backend
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.utils import get_partition

from local import bedrock_emulator, inprocess_lambda

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_installed = False
_originals: dict[tuple[Any, str], Any] = {}
_runner: inprocess_lambda.InProcessLambdaRunner | None = None


# ====================================================================== 1. Step Functions clone
def _deepcopy_without_executions(self: Any, memo: dict[int, Any]) -> Any:
    # moto's ASL backend deep-copies the state machine at every StartExecution. Finished
    # executions hang off it and hold thread locks (their worker and environment), so the
    # second execution of a machine fails with "cannot pickle '_thread.RLock'". The clone
    # only needs the machine's definition and settings, never its past executions.
    cls = type(self)
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, [] if name == "executions" else copy.deepcopy(value, memo))
    return clone


def _start_execution_named(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    # Step Functions names an execution started without a name with a UUID; moto's engine keeps
    # None (ARN "...:None", no name in DescribeExecution, and a second unnamed start collides).
    return _originals[(StepFunctionsParserBackend, "start_execution")](
        self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
    )


# ====================================================================== 2. Lambda from the zip
def deployed_code(function: Any) -> None:
    """Resolver of the in-process runner: always the zip deployed to moto (CloudFormation's asset)."""
    return None


# ====================================================================== 4a. CFN state machine
def _sfn_create_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    # moto creates the machine in `stepfunctions_backends`; with execute_state_machine on, the
    # API (StartExecution, DescribeExecution) reads `stepfunctions_parser_backends` instead, so a
    # machine deployed by CloudFormation would not even be found. `get_backend` is what the API
    # itself uses. The parser backend also validates the definition, as the service does.
    properties = cloudformation_json["Properties"]
    return sfn_get_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name),
        properties.get("DefinitionString", ""),
        properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
    )


def _sfn_delete_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    sfn_get_backend(account_id, region_name).delete_state_machine(resource_name)


def _sfn_update_from_cfn(  # noqa: PLR0917 - moto's positional signature
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    # Same reason as creation: the machine lives in the backend the API reads.
    properties = cloudformation_json.get("Properties", {})
    backend = sfn_get_backend(account_id, region_name)
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:
        replacement = _sfn_create_from_cfn(cls, name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return replacement
    machine = backend.update_state_machine(
        original_resource.arn,
        definition=properties.get("DefinitionString"),
        role_arn=properties.get("RoleArn"),
    )
    backend.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return machine


# ====================================================================== 4b. CFN bucket
def _bucket_create_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    # moto's bucket applies only BucketEncryption and Tags. The pipeline depends on two more:
    # VersioningConfiguration (events carry version ids; the run identity uses them) and
    # NotificationConfiguration.EventBridgeConfiguration (without it S3 sends no event at all).
    bucket = _originals[(FakeBucket, "create_from_cloudformation_json")].__func__(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}))
    return bucket


def _bucket_update_from_cfn(  # noqa: PLR0917 - moto's positional signature
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    bucket = _originals[(FakeBucket, "update_from_cloudformation_json")].__func__(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )
    _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}))
    return bucket


def _apply_bucket_properties(bucket: Any, properties: dict[str, Any]) -> None:
    versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        bucket.versioning_status = versioning
    notifications = properties.get("NotificationConfiguration") or {}
    event_bridge = notifications.get("EventBridgeConfiguration")
    if event_bridge is not None and str(event_bridge.get("EventBridgeEnabled", True)).lower() == "true":
        # The S3 API's form: an (empty) EventBridgeConfiguration element turns delivery on.
        bucket.set_notification_configuration({"EventBridgeConfiguration": {}})
    unsupported = sorted(
        set(notifications) & {"LambdaConfigurations", "QueueConfigurations", "TopicConfigurations"}
    )
    if unsupported:
        logger.warning("local mode: bucket %s: %s are not applied", bucket.name, ", ".join(unsupported))


# ====================================================================== 4c. CFN KMS key
def _kms_create_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    # moto hands CloudFormation's Tags ([{Key, Value}]) to the API's tagger, which expects
    # [{TagKey, TagValue}] (KeyError 'TagKey', the whole CreateStack fails with a 500), and keeps
    # the KeyPolicy object where the API keeps JSON text (GetKeyPolicy would return a dict).
    converted = copy.deepcopy(cloudformation_json)
    properties = converted.setdefault("Properties", {})
    properties["Tags"] = [
        {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", []) or []
    ]
    if isinstance(properties.get("KeyPolicy"), dict):
        properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
    return _originals[(Key, "create_from_cloudformation_json")].__func__(
        cls, resource_name, converted, account_id, region_name, **kwargs
    )


# ====================================================================== 4d. resources moto skips
class _RecordedResource:
    """A resource type moto's CloudFormation does not know, registered by `install()`.

    moto skips an unknown type with a warning and keeps ``None`` in the stack's resource map:
    DescribeStackResources then fails (KeyError 'LogicalResourceId' -> HTTP 500) and a ``Ref``
    to it resolves to nothing. moto looks types up in ``parsing.get_model_map()``; `install()`
    wraps that function to add these classes, so importing this module changes nothing.
    """

    # The CloudFormation type each subclass stands for (e.g. "AWS::SNS::TopicPolicy").
    cfn_type: str = ""
    logical_resource_id: str

    def __init__(self, physical_id: str, properties: dict[str, Any]) -> None:
        self.physical_id = physical_id
        self.properties = properties

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        cls.apply(properties, account_id, region_name, resource_name)
        return cls(resource_name, properties)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        return cls.create_from_cloudformation_json(
            original_resource.physical_id, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        """Make the resource take effect in moto's backends (nothing by default)."""


class S3BucketPolicy(_RecordedResource):
    """``AWS::S3::BucketPolicy``: recorded, deliberately not applied to moto's bucket.

    moto evaluates bucket policies without any request context: the statement CDK adds to every
    bucket (Deny ``s3:*`` when ``aws:SecureTransport`` is false) would deny *every* request, and
    the emulator speaks plain HTTP on loopback anyway. The policy stays readable on the resource.
    """

    cfn_type = "AWS::S3::BucketPolicy"


class SnsTopicPolicy(_RecordedResource):
    """``AWS::SNS::TopicPolicy``: sets each topic's ``Policy`` attribute, as the service does."""

    cfn_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        backend = sns_backends[account_id][region_name]
        for topic_arn in properties.get("Topics", []):
            # The Topic model's attribute is `policy` (SetTopicAttributes' "Policy").
            backend.set_topic_attribute(topic_arn, "policy", json.dumps(properties.get("PolicyDocument", {})))


class SqsQueuePolicy(_RecordedResource):
    """``AWS::SQS::QueuePolicy``: sets each queue's ``Policy`` attribute (``Queues`` are URLs)."""

    cfn_type = "AWS::SQS::QueuePolicy"

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for queue_url in properties.get("Queues", []):
            backend.set_queue_attributes(
                queue_url.rstrip("/").rsplit("/", 1)[-1],
                {"Policy": json.dumps(properties.get("PolicyDocument", {}))},
            )


class CloudWatchAlarm(_RecordedResource):
    """``AWS::CloudWatch::Alarm``: created with PutMetricAlarm's arguments (Ref = alarm name)."""

    cfn_type = "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        p = properties
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),  # type: ignore[arg-type]
            metric_name=p.get("MetricName"),  # type: ignore[arg-type]
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p.get("EvaluationPeriods", 1)),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),  # type: ignore[arg-type]
            description=p.get("AlarmDescription"),  # type: ignore[arg-type]
            dimensions=list(p.get("Dimensions", [])),
            alarm_actions=list(p.get("AlarmActions", [])),
            ok_actions=list(p.get("OKActions", [])),
            insufficient_data_actions=list(p.get("InsufficientDataActions", [])),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            unit=p.get("Unit"),
            actions_enabled=str(p.get("ActionsEnabled", "true")).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
            tags=[{"Key": t["Key"], "Value": t["Value"]} for t in p.get("Tags", [])],
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


# ====================================================================== 4f. scheduler group, invoke config
class SchedulerScheduleGroup(_RecordedResource):
    """``AWS::Scheduler::ScheduleGroup``: the group in moto's scheduler; Ref = name, GetAtt Arn.

    moto's scheduler has the API but no CloudFormation model, and CreateSchedule in a group moto
    does not know fails with a KeyError (HTTP 500) instead of ResourceNotFoundException.
    """

    cfn_type = "AWS::Scheduler::ScheduleGroup"
    account_id = ""
    region_name = ""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return (
                scheduler_backends[self.account_id][self.region_name].get_schedule_group(self.physical_id).arn
            )
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        resource = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        resource.account_id, resource.region_name = account_id, region_name
        return resource

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in properties.get("Tags", []) or []]
        scheduler_backends[account_id][region_name].create_schedule_group(name, tags)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        # As in the service, deleting a group deletes its schedules.
        scheduler_backends[account_id][region_name].delete_schedule_group(resource_name)


class LambdaEventInvokeConfig(_RecordedResource):
    """``AWS::Lambda::EventInvokeConfig``: PutFunctionEventInvokeConfig on the function.

    The EventBridge -> Lambda delivery below reads it (retries, on-failure destination).
    """

    cfn_type = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def apply(cls, properties: dict[str, Any], account_id: str, region_name: str, name: str) -> None:
        from moto.awslambda.utils import get_backend as lambda_get_backend  # noqa: PLC0415

        config = {
            key: properties[key]
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
            if key in properties
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        lambda_get_backend(account_id, region_name).put_function_event_invoke_config(
            properties["FunctionName"], config
        )


ADDED_RESOURCE_TYPES: dict[str, type[_RecordedResource]] = {
    model.cloudformation_type(): model
    for model in (
        S3BucketPolicy,
        SnsTopicPolicy,
        SqsQueuePolicy,
        CloudWatchAlarm,
        SchedulerScheduleGroup,
        LambdaEventInvokeConfig,
    )
}


def _get_model_map() -> dict[str, Any]:
    return {**ADDED_RESOURCE_TYPES, **_originals[(moto_cfn_parsing, "get_model_map")]()}


def _get_name_type_map() -> dict[str, str]:
    added = {name: model.cloudformation_name_type() for name, model in ADDED_RESOURCE_TYPES.items()}
    return {**added, **_originals[(moto_cfn_parsing, "get_name_type_map")]()}


# ====================================================================== 4g. Lambda permission id
def _permission_create_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    # moto adds the statement to the function's policy but keeps no id for the resource: the
    # stack's DescribeStackResources then has an entry without PhysicalResourceId (clients that
    # index by it fail). CloudFormation gives a permission a generated id; moto's name will do.
    permission = _originals[(LambdaPermission, "create_from_cloudformation_json")].__func__(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    permission.physical_resource_id = resource_name
    return permission


# ====================================================================== 4e. custom resources
def cfn_stringify(value: Any) -> Any:
    """CloudFormation's rendering of ResourceProperties: every scalar becomes a string.

    Numbers and booleans arrive in a custom-resource handler as ``"1"`` and ``"true"``; lists
    and objects keep their shape with their scalars converted. (CDK's handlers rely on it.)
    """
    if isinstance(value, dict):
        return {key: cfn_stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cfn_stringify(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return value
    return str(value)


def server_url() -> str:
    """This process's moto server (`local.server` sets ``MOTO_PORT``; moto's own default is 5000)."""
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT') or '5000'}"


def _custom_create_from_cfn(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    # moto's version sends the properties as they are in the template (numbers, booleans) and
    # a ResponseURL on `host.docker.internal` (where a Lambda container would reach the server).
    # Here the handler runs in this process and must answer on loopback; CloudFormation sends
    # every property value as a string.
    from moto.awslambda.utils import get_backend as lambda_get_backend  # noqa: PLC0415
    from moto.cloudformation import cloudformation_backends  # noqa: PLC0415
    from moto.moto_api._internal import mock_random  # noqa: PLC0415

    logical_id, stack_id = kwargs["LogicalId"], kwargs["StackId"]
    properties = cloudformation_json["Properties"]
    service_token = properties["ServiceToken"]
    function = lambda_get_backend(account_id, region_name).get_function(service_token)
    request_id = str(mock_random.uuid4())
    resource = CustomModel(region_name, request_id, logical_id, resource_name)
    cloudformation_backends[account_id][region_name].get_stack(stack_id).add_custom_resource(resource)
    event = {
        "RequestType": "Create",
        "ServiceToken": service_token,
        "ResponseURL": f"{server_url()}/cloudformation_{region_name}/cfnresponse?stack={stack_id}",
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": kwargs["ResourceType"],
        "ResourceProperties": cfn_stringify(properties),
    }
    # Asynchronous, as in CloudFormation: the stack completes when the handler answers.
    threading.Thread(
        target=function.invoke,
        args=(json.dumps(event), {}, {}),
        name=f"custom-resource-{logical_id}",
        daemon=True,
    ).start()
    return resource


# ====================================================================== 5. EventBridge -> states
def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    # moto delivers to logs, SQS, archives, buses and API destinations and raises
    # NotImplementedError for anything else, a Step Functions target included (and S3's
    # delivery swallows that error). A disabled rule must not deliver at all.
    if getattr(self, "state", "ENABLED") == "DISABLED":
        return
    if not self.event_pattern.matches_event(original_event):
        return
    machines = [target for target in self.targets if _arn_service(target.get("Arn", "")) == "states"]
    functions = [target for target in self.targets if _arn_service(target.get("Arn", "")) == "lambda"]
    if len(machines) + len(functions) < len(self.targets):
        rest = copy.copy(self)
        rest.targets = [target for target in self.targets if target not in machines + functions]
        _originals[(Rule, "send_to_targets")](rest, original_event, transform_input)
    for target in machines:
        _start_execution(self, target, original_event)
    for target in functions:
        _invoke_function(self, target, original_event)


def _arn_service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def event_as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a target receives it: ISO ``time``, without moto's bookkeeping fields."""
    delivered = {key: value for key, value in event.items() if key != "ingestion-time"}
    when = delivered.get("time")
    if isinstance(when, int | float) or (isinstance(when, str) and _is_number(when)):
        delivered["time"] = datetime.fromtimestamp(float(when), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime):
        delivered["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """What EventBridge sends a target: ``Input``, ``InputPath``, ``InputTransformer`` or the event."""
    delivered = event_as_delivered(event)
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse  # noqa: PLC0415 - moto's events dependency

        matches = parse(target["InputPath"]).find(delivered)
        return json.dumps(matches[0].value if matches else None)
    transformer = target.get("InputTransformer")
    if transformer:
        rendered = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=delivered,
        )
        return rendered if isinstance(rendered, str) else json.dumps(rendered)
    return json.dumps(delivered)


def _start_execution(rule: Rule, target: dict[str, Any], event: Any) -> None:
    arn = target["Arn"]
    region, account = arn.split(":")[3], arn.split(":")[4]
    try:
        execution = sfn_get_backend(account, region).start_execution(
            arn, name=str(uuid.uuid4()), execution_input=target_input(target, event)
        )
        logger.info("rule %s started %s", rule.name, execution.execution_arn)
    except Exception as error:
        # EventBridge retries, then puts the event on the target's dead-letter queue.
        logger.exception("rule %s could not start %s", rule.name, arn)
        _to_dead_letter_queue(rule, target, event, error)


def _invoke_function(rule: Rule, target: dict[str, Any], event: Any) -> None:
    """EventBridge -> Lambda: an asynchronous invocation (EventBridge does not wait for the function).

    Like Lambda's asynchronous invoke: a failed attempt is retried up to the function's
    ``MaximumRetryAttempts`` (default 2; at once here, where Lambda waits minutes), and an event
    every attempt failed on goes to its ``OnFailure`` SQS destination as Lambda's invocation record.
    A target that cannot be invoked at all (no such function) goes to the rule's dead-letter queue.
    """
    from moto.awslambda.utils import get_backend as lambda_get_backend  # noqa: PLC0415

    arn = target["Arn"]
    region, account = arn.split(":")[3], arn.split(":")[4]
    try:
        function = lambda_get_backend(account, region).get_function(arn)
        payload = target_input(target, event)
    except Exception as error:
        logger.exception("rule %s could not invoke %s", rule.name, arn)
        _to_dead_letter_queue(rule, target, event, error)
        return
    threading.Thread(
        target=_invoke_with_retries,
        args=(function, payload, rule.name),
        name=f"event-{rule.name}-{function.function_name}",
        daemon=True,
    ).start()


def _invoke_with_retries(function: Any, payload: str, rule_name: str) -> None:
    config = function.event_invoke_config[0].config if function.event_invoke_config else {}
    attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
    response: Any = b""
    for _ in range(attempts):
        headers: dict[str, str] = {}
        try:
            response = function.invoke(payload, {"x-amz-invocation-type": "Event"}, headers)
        except Exception:
            logger.exception("rule %s: invoking %s failed", rule_name, function.function_name)
            headers["x-amz-function-error"] = "Unhandled"
        if "x-amz-function-error" not in headers:
            return
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    logger.error("rule %s: %s failed %d times", rule_name, function.function_name, attempts)
    if destination and _arn_service(destination) == "sqs":
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": json.loads(payload),
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": json.loads(response) if response else None,
        }
        region, account, name = (
            destination.split(":")[3],
            destination.split(":")[4],
            destination.split(":")[5],
        )
        sqs_backends[account][region].send_message(queue_name=name, message_body=json.dumps(record))


def _to_dead_letter_queue(rule: Rule, target: dict[str, Any], event: Any, error: Exception) -> None:
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    region, account, name = queue_arn.split(":")[3], queue_arn.split(":")[4], queue_arn.split(":")[5]
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": target["Arn"],
        "ERROR_CODE": type(error).__name__,
        "ERROR_MESSAGE": str(error)[:1000],
    }
    try:
        sqs_backends[account][region].send_message(
            queue_name=name,
            message_body=json.dumps(event_as_delivered(event)),
            message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
    except Exception:
        logger.exception("could not put the event on the dead-letter queue %s", queue_arn)


# ====================================================================== 6. S3 -> EventBridge
_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}
_sequencer = 0
_sequencer_lock = threading.Lock()


def _next_sequencer() -> str:
    global _sequencer  # noqa: PLW0603 - S3's sequencer grows per bucket key; one counter is enough
    with _sequencer_lock:
        _sequencer += 1
        return f"{0x617F08299329D189 + _sequencer:016X}"


# A delete marker has no content: S3's Object Deleted event gives it the MD5 of nothing.
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


def s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The EventBridge event S3 publishes (docs: "EventBridge message structure").

    ``Object Deleted`` carries no ``size`` and a ``deletion-type``: ``Delete Marker Created`` (a
    versioned object's DeleteObject) or ``Permanently Deleted``.
    """
    removed = event_name.startswith("s3:ObjectRemoved")
    marker = isinstance(key, FakeDeleteMarker)
    detail_object: dict[str, Any] = {"key": key.name}
    if not removed:
        detail_object["size"] = key.size
    detail_object["etag"] = EMPTY_ETAG if marker else key.etag.replace('"', "")
    version_id = key.version_id
    if version_id and version_id != "null":
        # S3 leaves the field out for an object written while versioning was never enabled.
        detail_object["version-id"] = version_id
    detail_object["sequencer"] = _next_sequencer()
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": moto_s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        # moto keeps event times as epoch seconds internally; targets format them.
        "time": unix_time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS.get(event_name, event_name.split(":")[1]),
            **(
                {"deletion-type": "Delete Marker Created" if marker else "Permanently Deleted"}
                if removed
                else {}
            ),
        },
    }


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    # moto's event says "eTag" (S3 sends "etag"), "reason": "ObjectCreated" ("PutObject"), has
    # one fixed "id" for every event, and goes to the rules of every bus (S3 uses the default
    # bus). Any error, a missing target included, vanished in a bare `except: pass`. And every
    # PutObject also announced "Object Tags Added" (moto tags each new key, even with no tags).
    try:
        if event_name == moto_s3_notifications.S3NotificationEvent.OBJECT_TAGGING_PUT_EVENT and not _tags(
            account_id, bucket, key
        ):
            return
        put_on_default_bus(account_id, bucket.region_name, s3_event(account_id, bucket, event_name, key))
    except Exception:
        logger.exception("S3 -> EventBridge delivery failed for s3://%s/%s", bucket.name, key.name)


def put_on_default_bus(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Deliver an AWS service's event to the rules of the default bus (where services send theirs)."""
    backend = moto_events.events_backends[account_id][region]
    bus = backend.event_buses.get("default")
    for rule in list(bus.rules.values()) if bus else []:
        rule.send_to_targets(copy.deepcopy(event), transform_input=False)


def _set_delete_marker(self: S3Backend, bucket_name: str, key_name: str) -> Any:
    # moto sends no event when DeleteObject puts a delete marker on a versioned object (it only
    # notifies permanent deletions); S3 sends "Object Deleted" (deletion-type "Delete Marker
    # Created"), which is how the suite-file rule learns that a suite was deleted.
    marker = _originals[(S3Backend, "_set_delete_marker")](self, bucket_name, key_name)
    moto_s3_notifications.send_event(
        self.account_id,
        moto_s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
        self.get_bucket(bucket_name),
        marker,
    )
    return marker


def _tags(account_id: str, bucket: Any, key: Any) -> list[Any]:
    from moto.s3.models import s3_backends  # noqa: PLC0415

    backend = s3_backends[account_id][get_partition(bucket.region_name)]
    return list(backend.tagger.list_tags_for_resource(key.arn).get("Tags", []))


# ====================================================================== 7. Step Functions -> EventBridge
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


def _epoch_millis(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def execution_status_change_event(execution: Any) -> dict[str, Any]:
    """The event Step Functions sends to EventBridge when an execution changes status.

    The documented shape (Step Functions developer guide, "Automating Step Functions event delivery
    with EventBridge"): ``startDate`` / ``stopDate`` in epoch milliseconds, ``input`` and ``output``
    as JSON text (``output`` only for a SUCCEEDED execution), ``error`` / ``cause`` when it failed.
    """
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str  # noqa: PLC0415

    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    succeeded = status == "SUCCEEDED"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": execution.account_id,
        # moto keeps event times as epoch seconds internally; targets format them.
        "time": unix_time(),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name or execution.exec_arn.rsplit(":", 1)[-1],
            "status": status,
            "startDate": _epoch_millis(execution.start_date),
            "stopDate": _epoch_millis(execution.stop_date),
            "input": to_json_str(execution.input_data, separators=(",", ":")),
            "output": to_json_str(execution.output, separators=(",", ":")) if succeeded else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if succeeded else None,
            "error": execution.error or None,
            "cause": execution.cause or None,
        },
    }


def _execution_terminated(self: BaseExecutionWorkerCommunication) -> None:
    # moto's ASL engine records the final status and stops there: Step Functions also announces
    # it on the default bus (Standard workflows only; Express ones send no status events).
    _originals[(BaseExecutionWorkerCommunication, "terminated")](self)
    execution = self.execution
    if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
        return
    try:
        put_on_default_bus(
            execution.account_id, execution.region_name, execution_status_change_event(execution)
        )
    except Exception:
        logger.exception("Step Functions -> EventBridge delivery failed for %s", execution.exec_arn)


def _handle_catch(self: ExecutionState, env: Any, failure_event: Any) -> None:
    # StopExecution ends the whole execution in Step Functions: no Catch runs, the status is
    # ABORTED. moto's engine aborts a Map's iterations with a MapIterationAborted error that the
    # Map's Catch would route (here to RecordError: a stopped run recorded as ERROR), and failing
    # uncaught it would end the execution FAILED. Swallow it: the stopped program runs nothing more.
    error_name = getattr(getattr(failure_event, "error_name", None), "error_name", None)
    if HistoryEventType.MapIterationAborted in (failure_event.event_type, error_name):
        env.stack.append(CatchOutcome.Caught)
        return
    _originals[(ExecutionState, "_handle_catch")](self, env, failure_event)


def _error_output_value(failure_event: Any) -> Any:
    # moto's MapIterationAborted failure carries executionFailedEventDetails "" (not an object).
    details = next(iter(failure_event.event_details.values())) if failure_event.event_details else None
    if not isinstance(details, dict):
        return {"Error": "", "Cause": ""}
    return _originals[(ExecutionState, "_construct_error_output_value")].__func__(failure_event)


# ====================================================================== install / uninstall
def _patches() -> list[tuple[Any, str, Any]]:
    return [
        (StateMachineInstance, "__deepcopy__", _deepcopy_without_executions),
        (StepFunctionsParserBackend, "start_execution", _start_execution_named),
        (StateMachine, "create_from_cloudformation_json", classmethod(_sfn_create_from_cfn)),
        (StateMachine, "delete_from_cloudformation_json", classmethod(_sfn_delete_from_cfn)),
        (StateMachine, "update_from_cloudformation_json", classmethod(_sfn_update_from_cfn)),
        (FakeBucket, "create_from_cloudformation_json", classmethod(_bucket_create_from_cfn)),
        (FakeBucket, "update_from_cloudformation_json", classmethod(_bucket_update_from_cfn)),
        (Key, "create_from_cloudformation_json", classmethod(_kms_create_from_cfn)),
        (CustomModel, "create_from_cloudformation_json", classmethod(_custom_create_from_cfn)),
        (LambdaPermission, "create_from_cloudformation_json", classmethod(_permission_create_from_cfn)),
        (Rule, "send_to_targets", _send_to_targets),
        (moto_s3_notifications, "_send_event_bridge_message", _send_event_bridge_message),
        (S3Backend, "_set_delete_marker", _set_delete_marker),
        (BaseExecutionWorkerCommunication, "terminated", _execution_terminated),
        (ExecutionState, "_handle_catch", _handle_catch),
        (ExecutionState, "_construct_error_output_value", staticmethod(_error_output_value)),
        (moto_cfn_parsing, "get_model_map", _get_model_map),
        (moto_cfn_parsing, "get_name_type_map", _get_name_type_map),
    ]


_MISSING = object()


def install(*, lambda_resolver: Callable[[Any], Any] | None = deployed_code) -> None:
    """Apply every patch (idempotent).

    Parameters
    ----------
    lambda_resolver
        The in-process runner's resolver; the default runs each function from its deployed zip.
        A runner that is already installed (e.g. an active ``inprocess_lambdas()``) is kept.
    """
    global _installed, _runner  # noqa: PLW0603 - one process-wide switch, like moto's own backends
    with _lock:
        if _installed:
            return
        for owner, name, replacement in _patches():
            _originals[(owner, name)] = owner.__dict__.get(name, _MISSING)
            setattr(owner, name, replacement)
        if inprocess_lambda.current_runner() is None:
            _runner = inprocess_lambda.install(lambda_resolver)
        bedrock_emulator.install()
        _installed = True


def uninstall() -> None:
    """Restore moto (the Bedrock routes stay: they only add operations moto lacks)."""
    global _installed, _runner  # noqa: PLW0603 - see install()
    with _lock:
        if not _installed:
            return
        for (owner, name), original in _originals.items():
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _originals.clear()
        if _runner is not None and inprocess_lambda.current_runner() is _runner:
            inprocess_lambda.uninstall()
        _runner = None
        _installed = False


def installed() -> bool:
    return _installed


def runner() -> inprocess_lambda.InProcessLambdaRunner | None:
    """The in-process Lambda runner `install()` put in place (None if one was already active)."""
    return _runner
