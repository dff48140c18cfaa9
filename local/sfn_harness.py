"""Execute a Step Functions state machine in moto, with Lambda tasks run in-process.

moto executes Amazon States Language only when configured with
``{"stepfunctions": {"execute_state_machine": True}}`` (`SFN_MOTO_CONFIG`); otherwise executions
stay RUNNING forever. Combined with `local.inprocess_lambda`, the synthesized definition runs
unchanged: ``arn:aws:states:::lambda:invoke`` tasks (and tasks whose Resource is a function ARN)
call moto's Lambda Invoke API, which the runner serves by importing the handler.

Example
-------
>>> with mock_aws(config=SFN_MOTO_CONFIG), inprocess_lambdas(directory_resolver(code)):  # doctest: +SKIP
...     role = create_lambda_role(boto3.client("iam"))
...     arns = {"ValidateFunction": create_function(lambda_client, "validate",
...                                                 "handlers.validate.handler", {...}, role)}
...     definition = definition_from_template(template, "EvalStateMachine", arns)
...     machine = create_state_machine(sfn_client, "evalpipe", definition, role)
...     result = run_execution(sfn_client, machine, {"detail": {...}})
...     assert result.status == "SUCCEEDED", result.describe()
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

SFN_MOTO_CONFIG: Final[dict[str, Any]] = {"stepfunctions": {"execute_state_machine": True}}
"""Pass to ``moto.mock_aws(config=...)``: makes moto's Step Functions run the ASL definition."""

DEFAULT_ACCOUNT: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"
TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

_LAMBDA_TRUST_POLICY: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


# ---------------------------------------------------------------------- resources
def create_lambda_role(iam_client: Any, name: str = "inprocess-harness-role") -> str:
    """Create (or reuse) an IAM role; moto's CreateFunction requires the role to exist.

    Parameters
    ----------
    iam_client : botocore client
        IAM client inside the mock.
    name : str
        Role name.

    Returns
    -------
    str
        The role ARN (usable for Lambda functions and state machines).
    """
    try:
        return iam_client.get_role(RoleName=name)["Role"]["Arn"]
    except iam_client.exceptions.NoSuchEntityException:
        return iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=_LAMBDA_TRUST_POLICY)["Role"][
            "Arn"
        ]


def placeholder_zip() -> bytes:
    """A minimal zip for CreateFunction: moto requires code, the in-process runner ignores it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "code is resolved by local.inprocess_lambda\n")
    return buffer.getvalue()


def create_function(
    lambda_client: Any,
    name: str,
    handler: str,
    env: Mapping[str, str] | None,
    role_arn: str,
    *,
    timeout: int = 30,
    memory_size: int = 256,
    runtime: str = "python3.12",
    code: bytes | None = None,
) -> str:
    """Create a moto Lambda function and return its ARN.

    Parameters
    ----------
    lambda_client : botocore client
        Lambda client inside the mock.
    name : str
        Function name.
    handler : str
        ``module.attribute`` (e.g. ``"handlers.submit.handler"``), resolved by the runner.
    env : Mapping[str, str] or None
        The function's environment variables (applied only while its handler runs).
    role_arn : str
        ARN of an existing IAM role (see `create_lambda_role`).
    timeout, memory_size : int
        Reported by the context object (the runner does not enforce the timeout).
    runtime : str
        Recorded only; the handler runs on this interpreter.
    code : bytes, optional
        Zip to upload; defaults to `placeholder_zip` (right when a resolver supplies the code).

    Returns
    -------
    str
        The function ARN (what a state machine's ``FunctionName`` parameter holds).
    """
    response = lambda_client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": code if code is not None else placeholder_zip()},
        Environment={"Variables": dict(env or {})},
        Timeout=timeout,
        MemorySize=memory_size,
    )
    return response["FunctionArn"]


def create_state_machine(
    sfn_client: Any, name: str, definition: str | Mapping[str, Any], role_arn: str
) -> str:
    """Create a Standard state machine and return its ARN.

    Parameters
    ----------
    sfn_client : botocore client
        Step Functions client inside ``mock_aws(config=SFN_MOTO_CONFIG)``.
    name : str
        State machine name.
    definition : str or Mapping
        ASL as JSON text (e.g. from `definition_from_template`) or as a dict.
    role_arn : str
        Any role ARN (moto does not check it for state machines).

    Returns
    -------
    str
        The state machine ARN.
    """
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return sfn_client.create_state_machine(name=name, definition=text, roleArn=role_arn)["stateMachineArn"]


# ---------------------------------------------------------------------- executions
@dataclass(frozen=True)
class ExecutionResult:
    """What an execution ended with, and how it got there.

    Attributes
    ----------
    status : str
        SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    output : Any
        The decoded execution output (None unless SUCCEEDED).
    events : list of dict
        The full execution history, oldest first, as returned by GetExecutionHistory.
    path : list of str
        Names of the states entered, in order (a state retried by a Retrier appears once;
        a state entered again by a loop appears again).
    execution_arn : str
    error, cause : str or None
        The execution's failure (from DescribeExecution) when it did not succeed.
    """

    status: str
    output: Any
    events: list[dict[str, Any]] = field(repr=False)
    path: list[str]
    execution_arn: str = ""
    error: str | None = None
    cause: str | None = None

    def events_of_type(self, *types: str) -> list[dict[str, Any]]:
        """History events whose ``type`` is one of ``types`` (e.g. ``"TaskFailed"``)."""
        return [event for event in self.events if event["type"] in types]

    def state_output(self, state_name: str) -> Any:
        """The decoded output of the last exit of ``state_name``.

        Raises
        ------
        KeyError
            If the state never exited.
        """
        for event in reversed(self.events):
            details = event.get("stateExitedEventDetails")
            if details and details.get("name") == state_name:
                return json.loads(details["output"]) if details.get("output") is not None else None
        raise KeyError(f"state {state_name!r} never exited; path was {self.path}")

    def task_errors(self) -> list[str]:
        """Error names of the failed task attempts, in order (what Retry and Catch matched on)."""
        errors: list[str] = []
        for event in self.events:
            for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails"):
                if key in event:
                    errors.append(event[key].get("error", ""))
        return errors

    def describe(self) -> str:
        """A one-screen summary for assertion messages."""
        return (
            f"status={self.status} error={self.error} cause={self.cause}\n"
            f"path={' -> '.join(self.path)}\noutput={json.dumps(self.output, default=str)[:2000]}"
        )


def path_from_history(events: list[dict[str, Any]]) -> list[str]:
    """Names of the states entered, in history order.

    Parameters
    ----------
    events : list of dict
        GetExecutionHistory events, oldest first.

    Returns
    -------
    list of str
        One name per ``*StateEntered`` event.
    """
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in events
        if event["type"].endswith("StateEntered") and "stateEnteredEventDetails" in event
    ]


def execution_history(sfn_client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The whole history of an execution, oldest first (follows nextToken)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn_client.get_execution_history(**kwargs)
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return sorted(events, key=lambda event: event["id"])
        kwargs["nextToken"] = token


def run_execution(
    sfn_client: Any,
    state_machine_arn: str,
    input: Any,
    timeout: float = 60,
    *,
    name: str | None = None,
    poll_interval: float = 0.05,
) -> ExecutionResult:
    """Start an execution and wait until it ends.

    moto runs the execution on a background thread; this polls DescribeExecution.

    Parameters
    ----------
    sfn_client : botocore client
        Step Functions client inside ``mock_aws(config=SFN_MOTO_CONFIG)``.
    state_machine_arn : str
    input : Any
        Execution input: a str is sent as is, anything else as JSON.
    timeout : float
        Seconds to wait before giving up (the execution is then stopped).
    name : str, optional
        Execution name (defaults to a generated one).
    poll_interval : float
        Seconds between polls.

    Returns
    -------
    ExecutionResult

    Raises
    ------
    TimeoutError
        If the execution is still running after ``timeout`` seconds (typical cause: the
        engine is not enabled, see `SFN_MOTO_CONFIG`); the message includes the path so far.
    """
    kwargs: dict[str, Any] = {
        "stateMachineArn": state_machine_arn,
        "input": input if isinstance(input, str) else json.dumps(input),
    }
    # Step Functions names an unnamed execution with a UUID; moto 5.2.1 names it "None", so a
    # second unnamed execution would collide (ExecutionAlreadyExists).
    kwargs["name"] = name or str(uuid.uuid4())
    execution_arn = sfn_client.start_execution(**kwargs)["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        description = sfn_client.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL_STATUSES:
            break
        if time.monotonic() > deadline:
            path = path_from_history(execution_history(sfn_client, execution_arn))
            sfn_client.stop_execution(executionArn=execution_arn, error="Harness.Timeout")
            # moto's engine reflects the stop asynchronously (its worker thread is interrupted):
            # wait for that, so no execution keeps running into the next test.
            _wait_for_terminal_status(sfn_client, execution_arn, poll_interval, limit=5)
            raise TimeoutError(
                f"execution {execution_arn} still {description['status']} after {timeout}s; "
                f"states entered: {path} (is mock_aws configured with SFN_MOTO_CONFIG?)"
            )
        time.sleep(poll_interval)
    events = execution_history(sfn_client, execution_arn)
    raw_output = description.get("output")
    return ExecutionResult(
        status=description["status"],
        output=json.loads(raw_output) if raw_output is not None else None,
        events=events,
        path=path_from_history(events),
        execution_arn=execution_arn,
        error=description.get("error"),
        cause=description.get("cause"),
    )


def _wait_for_terminal_status(sfn_client: Any, execution_arn: str, poll_interval: float, limit: float) -> str:
    deadline = time.monotonic() + limit
    while True:
        status = sfn_client.describe_execution(executionArn=execution_arn)["status"]
        if status in TERMINAL_STATUSES or time.monotonic() > deadline:
            return status
        time.sleep(poll_interval)


# ---------------------------------------------------------------------- templates
class UnresolvableTemplateError(ValueError):
    """A token of the synthesized definition cannot be rendered with the values given."""


def default_pseudo_parameters(region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> dict[str, str]:
    """CloudFormation pseudo parameters as moto's default account and region see them."""
    return {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": "local",
        "AWS::NoValue": "",
    }


def definition_from_template(
    template: Mapping[str, Any],
    logical_id_of_state_machine: str,
    values: Mapping[str, str] | None = None,
    *,
    pseudo_parameters: Mapping[str, str] | None = None,
) -> str:
    """Render a synthesized state machine's definition into concrete ASL JSON.

    CDK emits ``DefinitionString`` as ``{"Fn::Join": ["", [str, token, str, ...]]}`` where the
    tokens are ``{"Fn::GetAtt": [fnLogicalId, "Arn"]}``, ``{"Ref": "AWS::Partition"}`` and other
    ``Ref``\\ s. ``DefinitionSubstitutions`` (``${name}`` placeholders) are applied when present.

    Parameters
    ----------
    template : Mapping
        The synthesized CloudFormation template (parsed JSON).
    logical_id_of_state_machine : str
        Logical id of the ``AWS::StepFunctions::StateMachine`` resource.
    values : Mapping[str, str], optional
        ``logical id -> value``: used for ``Ref`` and for ``Fn::GetAtt [id, "Arn"]``; an entry
        ``"<id>.<Attribute>"`` answers ``Fn::GetAtt [id, Attribute]`` for any attribute.
    pseudo_parameters : Mapping[str, str], optional
        Overrides `default_pseudo_parameters` (``AWS::Region`` etc.).

    Returns
    -------
    str
        The definition as JSON text.

    Raises
    ------
    UnresolvableTemplateError
        Unknown resource, unknown intrinsic function, unknown logical id, or a result that is not
        JSON. The message names the token and where in the definition it was found.
    """
    resources = template.get("Resources", {})
    if logical_id_of_state_machine not in resources:
        machines = [k for k, v in resources.items() if v.get("Type") == "AWS::StepFunctions::StateMachine"]
        raise UnresolvableTemplateError(
            f"no resource {logical_id_of_state_machine!r} in the template; state machines: {machines}"
        )
    properties = resources[logical_id_of_state_machine].get("Properties", {})
    resolver = _Resolver(values or {}, {**default_pseudo_parameters(), **(pseudo_parameters or {})})
    if "DefinitionString" in properties:
        text = resolver.resolve(properties["DefinitionString"], "DefinitionString")
    elif "Definition" in properties:
        text = json.dumps(resolver.resolve_structure(properties["Definition"], "Definition"))
    else:
        raise UnresolvableTemplateError(
            f"{logical_id_of_state_machine} has neither DefinitionString nor Definition "
            "(DefinitionS3Location is not supported)"
        )
    for key, raw in (properties.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + key + "}", resolver.resolve(raw, f"DefinitionSubstitutions.{key}"))
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnresolvableTemplateError(f"the rendered definition is not JSON: {exc}") from exc
    return text


def resolve_intrinsics(
    node: Any,
    values: Mapping[str, str],
    *,
    where: str = "value",
    pseudo_parameters: Mapping[str, str] | None = None,
) -> Any:
    """Resolve ``Ref`` / ``Fn::GetAtt`` / ``Fn::Join`` anywhere inside a template value.

    Used for what else the pipeline's functions need from the template (their environment).
    Same ``values`` convention as `definition_from_template`.
    """
    resolver = _Resolver(values, {**default_pseudo_parameters(), **(pseudo_parameters or {})})
    return resolver.resolve_structure(node, where)


class _Resolver:
    """Renders the intrinsic functions CDK puts into a state machine definition."""

    def __init__(self, values: Mapping[str, str], pseudo: Mapping[str, str]) -> None:
        self.values = values
        self.pseudo = pseudo

    def resolve(self, node: Any, where: str) -> str:
        if isinstance(node, str):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            raise UnresolvableTemplateError(f"expected one intrinsic function at {where}, got {node!r}")
        ((function, argument),) = node.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(
                self.resolve(part, f"{where}.Fn::Join[{i}]") for i, part in enumerate(parts)
            )
        if function == "Ref":
            return self._ref(argument, where)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(logical_id, attribute, where)
        raise UnresolvableTemplateError(
            f"unsupported intrinsic function {function!r} at {where}: {node!r} "
            "(supported: Fn::Join, Ref, Fn::GetAtt)"
        )

    def resolve_structure(self, node: Any, where: str) -> Any:
        """Resolve tokens inside a ``Definition`` object (values may be intrinsic functions)."""
        if isinstance(node, dict):
            if len(node) == 1 and next(iter(node)) in {"Fn::Join", "Ref", "Fn::GetAtt"} | _OTHER_INTRINSICS:
                return self.resolve(node, where)
            return {key: self.resolve_structure(value, f"{where}.{key}") for key, value in node.items()}
        if isinstance(node, list):
            return [self.resolve_structure(value, f"{where}[{i}]") for i, value in enumerate(node)]
        return node

    def _ref(self, name: str, where: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.values:
            return self.values[name]
        raise UnresolvableTemplateError(f"no value for Ref {name!r} at {where}; known: {sorted(self.values)}")

    def _get_att(self, logical_id: str, attribute: str, where: str) -> str:
        qualified = f"{logical_id}.{attribute}"
        if qualified in self.values:
            return self.values[qualified]
        if attribute == "Arn" and logical_id in self.values:
            return self.values[logical_id]
        raise UnresolvableTemplateError(
            f"no value for Fn::GetAtt [{logical_id!r}, {attribute!r}] at {where}; "
            f"give values[{logical_id!r}] (Arn) or values[{qualified!r}]; known: {sorted(self.values)}"
        )


# Intrinsics we recognise in a Definition object only to reject them with a clear message.
_OTHER_INTRINSICS: Final = frozenset(
    {"Fn::Sub", "Fn::Select", "Fn::Split", "Fn::If", "Fn::ImportValue", "Fn::FindInMap", "Fn::Base64"}
)
