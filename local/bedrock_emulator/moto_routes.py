"""The only module that touches moto internals (moto 5.2.1): how the emulator plugs in.

How moto serves ``bedrock`` (read in moto 5.2.1's source):

- In-process (``mock_aws``), ``moto.core.botocore_stubber.BotocoreStubber`` matches the URL
  ``https://bedrock.<region>.amazonaws.com/...`` against ``backend_index`` -> service
  ``bedrock``, then against that backend's ``urls`` (built from ``moto.bedrock.urls.url_paths``
  on every request); the first pattern, ``{0}/.*$``, already sends *every* path to
  ``BedrockResponse.dispatch``.
- In server mode (``ThreadedMotoServer``), ``DomainDispatcherApplication`` picks the
  ``bedrock`` app from the SigV4 credential scope (it tells bedrock, bedrock-agent and
  bedrock-runtime apart by asking each response class whether the method + path is one of its
  operations), and the app's werkzeug rules (``flask_paths`` of the same ``url_paths``, read
  when the app is first created) send the request to ``BedrockResponse.dispatch``.
- ``BaseResponse.call_action`` names the operation from botocore's model (method + requestUri
  -> ``CreateEvaluationJob``), turns it into ``create_evaluation_job`` and calls that method
  of the response class if it has one, else raises NotImplementedError.

``bedrock-runtime`` (Converse) the same way: moto 5.2.1 has a ``bedrockruntime`` backend
(``InvokeModel`` only, answering ``{}``). In-process, ``backend_index`` sends
``https://bedrock-runtime.<region>.amazonaws.com/...`` to it and its catch-all ``{0}/.*$`` to
``BedrockRuntimeResponse.dispatch``; in server mode the SigV4 scope says ``bedrock`` (the runtime
signs as ``bedrock``) and the dispatcher picks ``bedrock-runtime`` because only that model has
``POST /model/{modelId}/converse``. ``call_action`` then names the operation ``Converse`` and calls
``converse``, which ``BedrockRuntimeResponse`` lacks.

So the whole patch is: give ``BedrockResponse`` the five methods and ``BedrockRuntimeResponse``
``converse`` (patch 1); register explicit paths too, so the routing survives moto dropping its
catch-alls (patch 2); add the control endpoints to moto's ``/moto-api`` app (patch 3). The job
state lives on moto's own ``BedrockBackend`` instances (patch 4), so ``mock_aws()`` and
``POST /moto-api/reset`` clear it like any moto state (Converse keeps no state). :func:`verify_routes`
checks all of it and is what the guard test runs after a moto upgrade.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from moto import backends
from moto.bedrock import urls as bedrock_urls
from moto.bedrock.models import bedrock_backends
from moto.bedrock.responses import BedrockResponse
from moto.bedrockruntime import urls as runtime_urls
from moto.bedrockruntime.responses import BedrockRuntimeResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal import urls as moto_api_urls
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.server import main as moto_server_main
from moto.utilities.utils import get_partition

from local.bedrock_emulator import knowledge_bases
from local.bedrock_emulator.backend import CONVERSE, EvaluationJobBackend, controls
from local.bedrock_emulator.outputs import ModelEvaluationRunner, ObjectMissingError
from local.bedrock_emulator.runtime import handle_converse
from local.bedrock_emulator.service import OPERATIONS, ServiceRequest, handle, handle_control

if TYPE_CHECKING:
    from collections.abc import Callable

    from local.bedrock_emulator.service import ServiceResponse

# Method names moto derives from the operation names (camelcase_to_underscores).
HANDLER_NAMES = {
    "CreateEvaluationJob": "create_evaluation_job",
    "GetEvaluationJob": "get_evaluation_job",
    "ListEvaluationJobs": "list_evaluation_jobs",
    "StopEvaluationJob": "stop_evaluation_job",
    "BatchDeleteEvaluationJob": "batch_delete_evaluation_job",
}
# Explicit routes for the operations' requestUris (moto's url_paths syntax: {0} = URL base).
BEDROCK_URL_PATHS = (
    "{0}/evaluation-jobs$",
    "{0}/evaluation-jobs/batch-delete$",
    "{0}/evaluation-jobs/(?P<jobIdentifier>.+)$",
    "{0}/evaluation-job/(?P<jobIdentifier>[^/]+)/stop$",
)
# bedrock-runtime: the operation the emulator serves, its method name and route.
RUNTIME_HANDLER_NAMES = {CONVERSE: "converse"}
RUNTIME_URL_PATHS = ("{0}/model/(?P<modelId>[^/]+)/converse$",)
CONTROL_PREFIX = "/moto-api/evalpipe/bedrock-emulator/"
CONTROL_URL_PATH = "{0}" + CONTROL_PREFIX + "(?P<action>[a-z-]+)$"
# Sample requests for verify_routes: operation -> (method, path).
SAMPLE_REQUESTS = {
    "CreateEvaluationJob": ("POST", "/evaluation-jobs"),
    "GetEvaluationJob": (
        "GET",
        "/evaluation-jobs/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aevaluation-job%2Fabcdefghijkl",
    ),
    "ListEvaluationJobs": ("GET", "/evaluation-jobs"),
    "StopEvaluationJob": (
        "POST",
        "/evaluation-job/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aevaluation-job%2Fabcdefghijkl/stop",
    ),
    "BatchDeleteEvaluationJob": ("POST", "/evaluation-jobs/batch-delete"),
}
RUNTIME_SAMPLE_REQUESTS = {CONVERSE: ("POST", "/model/amazon.nova-lite-v1%3A0/converse")}
_STATE_ATTR = "evalpipe_evaluation_jobs"
# The emulator's knowledge bases live beside the jobs but survive the emulator's reset() (they are
# resources a deployment set up, like its S3 objects); moto's own reset drops them.
_KNOWLEDGE_BASES_ATTR = "evalpipe_knowledge_bases"

_install_lock = threading.Lock()
_state_lock = threading.Lock()
_installed = threading.Event()
# Operations moto itself implemented before install() replaced them (empty in moto 5.2.1).
native_operations_overridden: list[str] = []


def install() -> None:
    """Teach moto's ``bedrock`` service the evaluation-job operations. Idempotent.

    Call it before ``mock_aws()`` is used or before ``ThreadedMotoServer.start()`` (the
    server builds each service's routes on its first request to that service).
    """
    with _install_lock:
        if _installed.is_set():
            return

        # Patch 1: moto's BaseResponse.call_action dispatches to a method named after the
        # operation; BedrockResponse has none for evaluation jobs, BedrockRuntimeResponse none for
        # Converse, so add them.
        for response_class, names, serve in (
            (BedrockResponse, HANDLER_NAMES, _serve_jobs),
            (BedrockRuntimeResponse, RUNTIME_HANDLER_NAMES, handle_converse),
        ):
            for operation, method_name in names.items():
                existing = response_class.__dict__.get(method_name)
                if existing is not None and not getattr(existing, "evalpipe_emulator", False):
                    native_operations_overridden.append(operation)
                setattr(response_class, method_name, _make_handler(operation, method_name, serve))

        # Patch 2: explicit routes to the same dispatchers. moto's catch-alls "{0}/.*$" already
        # cover them; these keep the operations reachable if a moto release drops them.
        for pattern in BEDROCK_URL_PATHS:
            bedrock_urls.url_paths.setdefault(pattern, BedrockResponse.dispatch)
        for pattern in RUNTIME_URL_PATHS:
            runtime_urls.url_paths.setdefault(pattern, BedrockRuntimeResponse.dispatch)

        # Patch 3: the test controls over HTTP, next to moto's own /moto-api/* endpoints (the
        # server picks the moto_api app for any path starting with /moto-api).
        moto_api_urls.url_paths.setdefault(CONTROL_URL_PATH, _control_view)
        _installed.set()


def is_installed() -> bool:
    return _installed.is_set()


def _serve_jobs(request: ServiceRequest) -> ServiceResponse:
    return handle(request, backend_for)


def _make_handler(
    operation: str, method_name: str, serve: Callable[[ServiceRequest], ServiceResponse]
) -> Callable[[Any], tuple[str, dict[str, str]]]:
    def handler(self: Any) -> tuple[str, dict[str, str]]:
        # `self` is moto's BedrockResponse (or BedrockRuntimeResponse) after setup_class(): moto
        # parsed region (URL or SigV4 scope), account (access key / MOTO_ACCOUNT_ID), body and URL.
        # raw_path keeps the ARN percent-encoded in both modes (werkzeug: RAW_URI).
        request = ServiceRequest(
            operation=operation,
            path=getattr(self, "raw_path", None) or self.path,
            # Not self.querystring: moto fills it with the headers when the URL has no query.
            query=parse_qs(urlparse(self.uri).query, keep_blank_values=True),
            body=self.body,
            region=self.region,
            account_id=self.current_account,
        )
        response = serve(request)
        headers = dict(response.headers)
        headers["status"] = str(response.status)  # moto's _transform_response reads it here
        return response.body, headers

    handler.__name__ = handler.__qualname__ = method_name
    handler.evalpipe_emulator = True  # type: ignore[attr-defined]
    return handler


def backend_for(account_id: str, region: str) -> EvaluationJobBackend:
    """The evaluation jobs of an account and region (created on first use).

    Patch 4: kept as an attribute of moto's ``BedrockBackend`` for that account and region, so
    moto's reset (``mock_aws()`` start, ``/moto-api/reset``) drops them with the rest.
    """
    moto_backend = bedrock_backends[account_id][region]
    with _state_lock:
        state = moto_backend.__dict__.get(_STATE_ATTR)
        if state is None:
            runner = ModelEvaluationRunner(
                MotoS3Store(account_id, region),
                region,
                knowledge_bases=lambda kb_id: knowledge_bases_for(account_id, region).get(kb_id),
            )
            state = EvaluationJobBackend(account_id, region, runner)
            setattr(moto_backend, _STATE_ATTR, state)
    return state


def knowledge_bases_for(account_id: str, region: str) -> knowledge_bases.KnowledgeBaseRegistry:
    """The emulator's knowledge bases of an account and Region (created on first use).

    Kept on moto's ``BedrockBackend`` like the jobs (patch 4), under their own attribute so that
    :func:`reset` (controls and jobs) leaves them registered.
    """
    moto_backend = bedrock_backends[account_id][region]
    with _state_lock:
        registry = moto_backend.__dict__.get(_KNOWLEDGE_BASES_ATTR)
        if registry is None:
            registry = knowledge_bases.KnowledgeBaseRegistry()
            setattr(moto_backend, _KNOWLEDGE_BASES_ATTR, registry)
    return registry


def reset() -> None:
    """Controls back to defaults and every emulated job of every account and region dropped."""
    controls.reset()
    with _state_lock:
        for account_backends in list(bedrock_backends.values()):
            for moto_backend in list(account_backends.values()):
                moto_backend.__dict__.pop(_STATE_ATTR, None)


class MotoS3Store:
    """The :class:`~local.bedrock_emulator.outputs.ObjectStore` over moto's S3 backend.

    Direct backend calls work the same in-process and in server mode (one process, one
    backend) and need no endpoint or credentials; ``put_object`` still emits moto's S3 event
    notifications, as the service's writes would.
    """

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.partition = get_partition(region)

    def _s3(self) -> Any:
        return s3_backends[self.account_id][self.partition]

    def read(self, bucket: str, key: str) -> bytes:
        try:
            found = self._s3().get_object(bucket, key)
        except MissingBucket as error:
            raise ObjectMissingError("NoSuchBucket", bucket, key) from error
        if found is None:
            raise ObjectMissingError("NoSuchKey", bucket, key)
        return bytes(found.value)

    def write(self, bucket: str, key: str, data: bytes) -> None:
        self._s3().put_object(bucket, key, data)

    def has_bucket(self, bucket: str) -> bool:
        try:
            self._s3().get_bucket(bucket)
        except MissingBucket:
            return False
        return True


def _control_view(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    # moto_api handlers get (request, full_url, headers): a werkzeug Request in server mode,
    # a PreparedRequest in-process (.body). Not werkzeug's .data: it is empty when a client
    # sends the JSON as a form (urllib's default content type).
    action = urlparse(full_url).path.rsplit("/", 1)[-1]
    if hasattr(request, "get_data"):
        raw = request.get_data(parse_form_data=False)
    else:
        raw = getattr(request, "body", None)
    try:
        payload = json.loads(raw) if raw else {}
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError as error:
        return 400, {"Content-Type": "application/json"}, json.dumps({"message": f"bad JSON body: {error}"})
    if action == knowledge_bases.CONTROL_ACTION:
        status, body = knowledge_bases.handle_control(payload, knowledge_bases_for, DEFAULT_ACCOUNT_ID)
    else:
        status, body = handle_control(action, payload, reset)
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def verify_routes(region: str = "us-east-1") -> list[str]:
    """What no longer holds in this moto version for the emulator to be reachable ([] = all).

    Checks, for every operation of ``bedrock`` (evaluation jobs) and ``bedrock-runtime``
    (Converse): in-process routing (the first matching URL pattern of the service's backend leads
    to its response class's ``dispatch``), moto's operation naming from botocore's model, the
    emulator's handler on the response class, the server's service detection from a SigV4 scope
    (both sign as ``bedrock``) and the app's werkzeug rule; and the control endpoint's rule.
    """
    if not _installed.is_set():
        return ["install() has not been called"]
    dispatcher = DomainDispatcherApplication(create_backend_app)
    problems = [
        problem
        for service in _SERVICES
        for operation, (method, path) in service.samples.items()
        for check in _OPERATION_CHECKS
        if (problem := check(service.routing(region, dispatcher), operation, method, path)) is not None
    ]
    control = _control_rule()
    if control is not None:
        problems.append(control)
    if sorted(HANDLER_NAMES) != sorted(OPERATIONS):
        problems.append("HANDLER_NAMES and service.OPERATIONS disagree")
    return problems


@dataclass(frozen=True)
class _Service:
    """A moto service the emulator serves operations of."""

    name: str  # moto's backend name and the endpoint's host prefix
    response_class: type
    handler_names: dict[str, str]
    samples: dict[str, tuple[str, str]]  # operation -> (method, path) of a sample request

    def routing(self, region: str, dispatcher: DomainDispatcherApplication) -> _Routing:
        return _Routing(
            service=self,
            region=region,
            backend=backends.get_backend(self.name)[DEFAULT_ACCOUNT_ID][region],  # type: ignore[call-overload]
            server_rules=create_backend_app(self.name).url_map.bind("localhost"),  # type: ignore[arg-type]
            dispatcher=dispatcher,
        )


@dataclass(frozen=True)
class _Routing:
    """What routes a request of one service: moto's backend in-process, the app's rules and the
    domain dispatcher in server mode."""

    service: _Service
    region: str
    backend: Any
    server_rules: Any  # the service app's werkzeug MapAdapter
    dispatcher: DomainDispatcherApplication

    @property
    def host(self) -> str:
        return f"{self.service.name}.{self.region}.amazonaws.com"

    @property
    def dispatch_name(self) -> str:
        return f"{self.service.response_class.__name__}.dispatch"


_SERVICES = (
    _Service("bedrock", BedrockResponse, HANDLER_NAMES, SAMPLE_REQUESTS),
    _Service("bedrock-runtime", BedrockRuntimeResponse, RUNTIME_HANDLER_NAMES, RUNTIME_SAMPLE_REQUESTS),
)

# The checks of one operation's sample request, in this order; each gives a problem or None.


def _in_process_route(routing: _Routing, operation: str, method: str, path: str) -> str | None:
    url = f"https://{routing.host}{path}"
    first = next((h for pattern, h in routing.backend.urls.items() if re.compile(pattern).match(url)), None)
    if getattr(first, "__self__", None) is routing.service.response_class:
        return None
    return f"{operation}: in-process URL {path} is routed to {first!r}, not {routing.dispatch_name}"


def _moto_operation_name(routing: _Routing, operation: str, method: str, path: str) -> str | None:
    probe = routing.service.response_class()
    probe.region = routing.region
    named = probe._get_action_from_method_and_request_uri(method, path)
    return None if named == operation else f"{operation}: moto names {method} {path} {named!r}"


def _emulator_handler(routing: _Routing, operation: str, method: str, path: str) -> str | None:
    cls, name = routing.service.response_class, routing.service.handler_names[operation]
    if getattr(getattr(cls, name, None), "evalpipe_emulator", False):
        return None
    return f"{operation}: {cls.__name__}.{name} is not the emulator's"


def _server_service(routing: _Routing, operation: str, method: str, path: str) -> str | None:
    region = routing.region
    environ = {
        # bedrock and bedrock-runtime both sign as "bedrock" (the models' signingName).
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=test/20250101/{region}/bedrock/aws4_request, "
        "SignedHeaders=host, Signature=x",
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
    }
    host = routing.dispatcher.infer_service_region_host(environ, path)
    if host == routing.host:
        return None
    return f"{operation}: the server sends {method} {path} to {host!r}, not {routing.host!r}"


def _server_rule(routing: _Routing, operation: str, method: str, path: str) -> str | None:
    try:
        endpoint, _ = routing.server_rules.match(path, method=method)
    except Exception as error:  # werkzeug NotFound / MethodNotAllowed
        return f"{operation}: no server route for {method} {path}: {error!r}"
    if endpoint.startswith(routing.dispatch_name):
        return None
    return f"{operation}: server route of {path} is {endpoint}"


_OPERATION_CHECKS: tuple[Callable[[_Routing, str, str, str], str | None], ...] = (
    _in_process_route,
    _moto_operation_name,
    _emulator_handler,
    _server_service,
    _server_rule,
)


def _control_rule() -> str | None:
    try:
        create_backend_app("moto_api").url_map.bind("localhost").match(
            CONTROL_PREFIX + "state", method="POST"
        )
    except Exception as error:
        return f"control endpoint {CONTROL_PREFIX}state has no server route: {error!r}"
    return None


def serve(argv: list[str] | None = None) -> None:
    """``moto_server`` with the emulator installed (``python -m local.bedrock_emulator -p 5000``)."""
    install()
    moto_server_main(argv)
