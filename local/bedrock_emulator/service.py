"""The emulated REST-JSON front door: parse, validate, dispatch, answer as the service does.

Validation walks botocore's ``bedrock`` model generically, as the service does server-side
(botocore itself checks only types, required members and minimums, and only when parameter
validation is on): required members, string lengths, list sizes, numeric ranges, patterns
(fully anchored: ``re.fullmatch``), enums and tagged unions (exactly one member). The service
accepts ``taskType: "General"`` although the model's enum omits it (facts page, trap 1), so
:data:`EXTRA_ENUM_VALUES` allows it. Messages follow the service's wording::

    1 validation error detected: Value 'Bad_Name' at 'jobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-z0-9](-*[a-z0-9]){0,62}

(values of members the model marks sensitive are left out, list items are addressed as
``path.<n>.member``). Errors leave as the real REST-JSON error: the HTTP status of the modeled
exception, an ``x-amzn-ErrorType`` header and ``{"message": ...}``, so botocore raises
``client.exceptions.<Code>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.loaders import create_loader
from botocore.model import ServiceModel

from local.bedrock_emulator.backend import (
    EmulatorError,
    EvaluationJobBackend,
    ValidationError,
    controls,
)
from local.bedrock_emulator.judges.base import JUDGE_BUILTIN_METRICS, KNOWN_BUILTIN_METRICS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from botocore.model import OperationModel, Shape

OPERATIONS = (
    "CreateEvaluationJob",
    "GetEvaluationJob",
    "ListEvaluationJobs",
    "StopEvaluationJob",
    "BatchDeleteEvaluationJob",
)
# Enum values the service accepts beyond the published model (see module docstring).
EXTRA_ENUM_VALUES: dict[str, frozenset[str]] = {"EvaluationTaskType": frozenset({"General"})}
# A recursive shape (RetrievalFilter.andAll) could nest without end; real requests are shallow.
MAX_DEPTH = 40


@cache
def service_model() -> ServiceModel:
    """botocore's ``bedrock`` model (the loader only: no AWS config or environment read)."""
    return ServiceModel(create_loader().load_service_model("bedrock", "service-2"), "bedrock")


def operation_model(operation: str) -> OperationModel:
    return service_model().operation_model(operation)


@dataclass
class ServiceRequest:
    """One HTTP request, whatever served it (botocore stubber or werkzeug)."""

    operation: str
    path: str  # percent-encoded, as sent
    query: Mapping[str, list[str]]
    body: bytes | str | None
    region: str
    account_id: str


@dataclass
class ServiceResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


# -- validation -------------------------------------------------------------------------------


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # ASCII: \s and \w mean what they mean in the service's (Java) regular expressions.
    return re.compile(pattern, re.ASCII)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


class _Walker:
    """Collects the constraint violations of one value against one shape."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, shape: Shape, value: Any, path: str, constraint: str) -> None:
        shown = "" if shape.metadata.get("sensitive") else f" '{_show(value)}'"
        self.errors.append(f"Value{shown} at '{path}' failed to satisfy constraint: Member must {constraint}")

    def walk(self, shape: Shape, value: Any, path: str, depth: int = 0) -> None:
        if value is None or depth > MAX_DEPTH:
            return
        check = _KIND_CHECKS.get(shape.type_name)
        if check is not None:  # other types (blob, timestamp) are not checked
            check(self, shape, value, path, depth)

    # The checks of one shape type take (shape, value, path, depth): see _KIND_CHECKS.

    def _list(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, list):
            self.fail(shape, value, path, "be a list")
            return
        self._range(shape, value, len(value), path, "length")
        for index, item in enumerate(value, start=1):
            self.walk(shape.member, item, f"{path}.{index}.member", depth + 1)

    def _map(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.fail(shape, value, path, "be a map")
            return
        self._range(shape, value, len(value), path, "length")
        for key, item in value.items():
            self.walk(shape.key, key, f"{path}.key", depth + 1)
            self.walk(shape.value, item, f"{path}.{key}", depth + 1)

    def _integer(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(shape, value, path, "be an integer")
        else:
            self._range(shape, value, value, path, "value")

    def _float(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(shape, value, path, "be a number")
        else:
            self._range(shape, value, value, path, "value")

    def _boolean(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, bool):
            self.fail(shape, value, path, "be a boolean")

    def _structure(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if shape.metadata.get("document"):
            return  # free-form JSON
        if not isinstance(value, dict):
            self.fail(shape, value, path, "be a structure")
            return
        present = [name for name in shape.members if value.get(name) is not None]
        if shape.metadata.get("union") and len(present) != 1:
            where = path or shape.name
            chosen = ", ".join(present) if present else "none"
            self.errors.append(
                f"Value at '{where}' failed to satisfy constraint: Member must have exactly one member set "
                f"(set: {chosen})"
            )
        for name in shape.required_members:
            if value.get(name) is None:
                self.errors.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name in present:
            self.walk(shape.members[name], value[name], _join(path, name), depth + 1)

    def _string(self, shape: Shape, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, str):
            self.fail(shape, value, path, "be a string")
            return
        self._range(shape, value, len(value), path, "length")
        pattern = shape.metadata.get("pattern")
        if pattern and not _regex(pattern).fullmatch(value):
            self.fail(shape, value, path, f"satisfy regular expression pattern: {pattern}")
        allowed = list(shape.enum or ())
        if allowed and value not in allowed and value not in EXTRA_ENUM_VALUES.get(shape.name, ()):
            self.fail(shape, value, path, f"satisfy enum value set: [{', '.join(allowed)}]")

    def _range(self, shape: Shape, value: Any, measure: float, path: str, what: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and measure < low:
            self.fail(shape, value, path, f"have {what} greater than or equal to {low}")
        if high is not None and measure > high:
            self.fail(shape, value, path, f"have {what} less than or equal to {high}")


# Shape type -> the _Walker check of a value of that type.
_KIND_CHECKS: dict[str, Callable[[_Walker, Shape, Any, str, int], None]] = {
    "structure": _Walker._structure,
    "list": _Walker._list,
    "map": _Walker._map,
    "string": _Walker._string,
    "integer": _Walker._integer,
    "long": _Walker._integer,
    "float": _Walker._float,
    "double": _Walker._float,
    "boolean": _Walker._boolean,
}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` when ``params`` break the operation's input shape."""
    validate_shape(operation_model(operation).input_shape, params)


def validate_shape(shape: Shape, params: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` when ``params`` break ``shape``, of any service's model (the
    Converse stand-in checks its requests against ``bedrock-runtime``'s)."""
    walker = _Walker()
    walker.walk(shape, params, "")
    _raise(walker.errors)


def _raise(errors: list[str]) -> None:
    if errors:
        count = len(errors)
        noun = "validation error" if count == 1 else "validation errors"
        raise ValidationError(f"{count} {noun} detected: " + "; ".join(errors))


def check_create_rules(request: dict[str, Any]) -> None:
    """The service's checks beyond the shapes (those that reject CreateEvaluationJob itself).

    Raises
    ------
    ValidationError
        An unknown ``Builtin.`` metric; an automated model job with other than one model; an
        ``applicationType`` that contradicts ``inferenceConfig``; judge metrics (built-in
        judge metrics or custom metrics) without ``evaluatorModelConfig``; custom metric
        names defined twice.
    """
    problems: list[str] = []
    evaluation = request["evaluationConfig"]
    inference = request["inferenceConfig"]
    kind = "ragConfigs" if "ragConfigs" in inference else "models"
    application = request.get("applicationType")
    if application and (application == "RagEvaluation") != (kind == "ragConfigs"):
        problems.append(f"applicationType {application} does not match inferenceConfig.{kind}.")
    automated = evaluation.get("automated")
    if automated is not None:
        if kind == "models" and len(inference["models"]) != 1:
            problems.append(
                "Automated model evaluation jobs support exactly one model in inferenceConfig.models."
            )
        names = [name for config in automated["datasetMetricConfigs"] for name in config["metricNames"]]
        unknown = sorted({n for n in names if n.startswith("Builtin.") and n not in KNOWN_BUILTIN_METRICS})
        if unknown:
            problems.append(f"Unknown built-in metric names: {', '.join(unknown)}.")
        needs_judge = any(n in JUDGE_BUILTIN_METRICS for n in names)
        if needs_judge and not automated.get("evaluatorModelConfig"):
            problems.append("evaluatorModelConfig is required for the built-in judge metrics.")
        definitions = [
            source["customMetricDefinition"]["name"]
            for source in (automated.get("customMetricConfig") or {}).get("customMetrics", [])
            if "customMetricDefinition" in source
        ]
        if len(definitions) != len(set(definitions)):
            problems.append("Custom metric names must be unique within customMetricConfig.customMetrics.")
    if problems:
        raise ValidationError(" ".join(problems))


# -- HTTP -------------------------------------------------------------------------------------


@cache
def _uri_regex(operation: str) -> re.Pattern[str]:
    # A label is one path segment, except a greedy ``{x+}`` or a label ending the URI (an
    # unencoded ARN carries a '/'), as moto reads them.
    template = operation_model(operation).http["requestUri"]

    def label(match: re.Match[str]) -> str:
        greedy = match.group(2) == "+" or match.end() == len(template)
        return f"(?P<{match.group(1)}>{'.+' if greedy else '[^/]+'})"

    return re.compile("^" + re.sub(r"\{(\w+)(\+?)\}", label, template) + "$")


def json_body(request: ServiceRequest) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); a body that is not one is a ValidationException."""
    if not request.body:
        return {}
    text = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
    try:
        loaded = json.loads(text)
    except ValueError as error:
        raise ValidationError("The request body is not valid JSON.") from error
    if not isinstance(loaded, dict):
        raise ValidationError("The request body must be a JSON object.")
    return loaded


def _parse_params(request: ServiceRequest) -> dict[str, Any]:
    """The operation's input as botocore sent it: body members, URI labels, query members."""
    model = operation_model(request.operation)
    params = json_body(request)
    match = _uri_regex(request.operation).match(request.path)
    for name, raw in (match.groupdict() if match else {}).items():
        params[name] = unquote(raw)  # botocore percent-encodes the ARN's ':' and '/'
    for name, member in model.input_shape.members.items():
        location = member.serialization.get("location")
        if location != "querystring":
            continue
        values = request.query.get(member.serialization.get("name", name))
        if not values:
            continue
        params[name] = _query_value(member, values[0], name)
    return params


def _query_value(member: Shape, raw: str, name: str) -> Any:
    if member.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as error:
            raise ValidationError(
                f"Value '{raw}' at '{name}' failed to satisfy constraint: Member must be an integer"
            ) from error
    if member.type_name == "timestamp":
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as error:
            raise ValidationError(f"Value '{raw}' at '{name}' is not an ISO-8601 timestamp") from error
    return raw


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        # ISO 8601 with milliseconds and Z, the timestampFormat of these output shapes.
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    raise TypeError(f"not JSON serialisable: {value!r}")


def _ok(status: int, body: dict[str, Any]) -> ServiceResponse:
    return ServiceResponse(status, json.dumps(body, default=_json_default))


def error_response(error: EmulatorError, model: ServiceModel | None = None) -> ServiceResponse:
    """The REST-JSON error: the HTTP status ``model`` (default: ``bedrock``'s) gives the code,
    ``x-amzn-ErrorType`` and ``{"message"}``."""
    try:
        status = (model or service_model()).shape_for(error.code).metadata["error"]["httpStatusCode"]
    except Exception:  # a code the model does not know: a server error
        status = 500
    return ServiceResponse(
        status,
        json.dumps({"message": error.message}),
        {"Content-Type": "application/json", "x-amzn-ErrorType": error.code},
    )


def handle(
    request: ServiceRequest, backend_for: Callable[[str, str], EvaluationJobBackend]
) -> ServiceResponse:
    """Serve one evaluation-job operation.

    Parameters
    ----------
    request : ServiceRequest
        The parsed HTTP request (``operation`` resolved by the caller from method + path).
    backend_for : callable
        ``backend_for(account_id, region)`` -> the jobs of that account and region.
    """
    try:
        injected = controls.take_injected_error(request.operation)
        if injected is not None:
            raise injected  # before validation: throttling happens at the front door
        params = _parse_params(request)
        validate_input(request.operation, params)
        backend = backend_for(request.account_id, request.region)
        return _OPERATIONS[request.operation](backend, params)
    except EmulatorError as error:
        return error_response(error)


def _create(backend: EvaluationJobBackend, params: dict[str, Any]) -> ServiceResponse:
    check_create_rules(params)
    return _ok(202, {"jobArn": backend.create_job(params)})


def _get(backend: EvaluationJobBackend, params: dict[str, Any]) -> ServiceResponse:
    return _ok(200, backend.get_job(params["jobIdentifier"]).describe())


def _list(backend: EvaluationJobBackend, params: dict[str, Any]) -> ServiceResponse:
    jobs, token = backend.list_jobs(
        status=params.get("statusEquals"),
        application_type=params.get("applicationTypeEquals"),
        name_contains=params.get("nameContains"),
        created_after=params.get("creationTimeAfter"),
        created_before=params.get("creationTimeBefore"),
        descending=params.get("sortOrder", "Descending") == "Descending",
        max_results=params.get("maxResults"),
        next_token=params.get("nextToken"),
    )
    body: dict[str, Any] = {"jobSummaries": [job.summary() for job in jobs]}
    if token:
        body["nextToken"] = token
    return _ok(200, body)


def _stop(backend: EvaluationJobBackend, params: dict[str, Any]) -> ServiceResponse:
    backend.stop_job(params["jobIdentifier"])
    return _ok(200, {})


def _batch_delete(backend: EvaluationJobBackend, params: dict[str, Any]) -> ServiceResponse:
    deleted, errors = backend.batch_delete(params["jobIdentifiers"])
    return _ok(202, {"errors": errors, "evaluationJobs": deleted})


_OPERATIONS: dict[str, Callable[[EvaluationJobBackend, dict[str, Any]], ServiceResponse]] = {
    "CreateEvaluationJob": _create,
    "GetEvaluationJob": _get,
    "ListEvaluationJobs": _list,
    "StopEvaluationJob": _stop,
    "BatchDeleteEvaluationJob": _batch_delete,
}


# -- test controls over HTTP (server mode) ----------------------------------------------------

CONTROL_ACTIONS = ("state", "reset", "config", "inject-error", "throttle", "fail-jobs", "outputs")


def handle_control(
    action: str, payload: dict[str, Any], reset_all: Callable[[], None]
) -> tuple[int, dict[str, Any]]:
    """Apply one control action (``POST /moto-api/evalpipe/bedrock-emulator/<action>``).

    ==============  ===============================================================================
    ``state``       (GET or POST) the current settings
    ``reset``       controls back to defaults and every emulated job forgotten
    ``config``      ``{"jobSeconds", "stopSeconds", "deleteSeconds", "maxConcurrentJobs"}`` (any)
    ``inject-error`` ``{"operation", "code", "count"?, "message"?}`` (``Converse`` too)
    ``throttle``    ``{"count"?, "operation"?}``: the next calls of the operation (default
                    CreateEvaluationJob; ``Converse``) raise ThrottlingException
    ``fail-jobs``   ``{"messages", "namePattern"?, "count"?}``: without a pattern, the next job
    ==============  ===============================================================================

    Returns ``(status, body)``; a bad payload is a 400 with ``{"message"}``.
    """
    apply = _CONTROLS.get(action)
    if apply is None:
        return 404, {"message": f"unknown action {action!r}; one of {', '.join(CONTROL_ACTIONS)}"}
    try:
        apply(payload, reset_all)
    except (KeyError, TypeError, ValueError, re.error) as error:
        return 400, {"message": f"bad {action} payload: {error!r}"}
    return 200, controls.snapshot()


# Each control action: (payload, reset_all) -> None; handle_control answers with the snapshot.


def _state(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    """Nothing to change: the answer is the snapshot itself."""


def _reset(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    reset_all()


def _config(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    controls.set_delays(payload.get("jobSeconds"), payload.get("stopSeconds"), payload.get("deleteSeconds"))
    if "maxConcurrentJobs" in payload:
        limit = payload["maxConcurrentJobs"]
        controls.max_concurrent_jobs = None if limit is None else int(limit)


def _inject_error(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    controls.inject_error(
        payload["operation"], payload["code"], int(payload.get("count", 1)), payload.get("message")
    )


def _throttle(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    operation = payload.get("operation", "CreateEvaluationJob")
    controls.inject_error(str(operation), "ThrottlingException", int(payload.get("count", 1)))


def _fail_jobs(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    messages = payload.get("messages") or ["Injected failure"]
    if payload.get("namePattern"):
        controls.fail_jobs_matching(payload["namePattern"], messages, payload.get("count"))
        return
    for _ in range(int(payload.get("count", 1))):  # without a pattern: the next jobs, in turn
        controls.fail_next_job(messages)


def _outputs(payload: dict[str, Any], reset_all: Callable[[], None]) -> None:
    controls.shorten_next_outputs(int(payload.get("drop", 0)), int(payload.get("repeat", 0)))


# The keys are CONTROL_ACTIONS.
_CONTROLS: dict[str, Callable[[dict[str, Any], Callable[[], None]], None]] = {
    "state": _state,
    "reset": _reset,
    "config": _config,
    "inject-error": _inject_error,
    "throttle": _throttle,
    "fail-jobs": _fail_jobs,
    "outputs": _outputs,
}
