"""One adapter per target type, each answering :class:`~evalpipe.collect.conversation.Target`.

Every adapter takes its client from the caller (boto3 clients and urllib3 pools are safe to
share between threads) and configures no retries of its own: retries with exponential backoff
and jitter belong to the client. Build the boto3 clients with botocore's standard retry mode
(:func:`boto_config`) and the HTTP pool with :func:`http_retry`; a call that still fails
raises, and the collector reports the scenario as failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from evalpipe.collect.conversation import Conversation, Reply
from evalpipe.collect.errors import MissingToolResult, TargetFailed, ToolRoundsExceeded
from evalpipe.collect.payload import answer_at, render_template, tokens_at
from evalpipe.collect.targets import BedrockTarget, HeaderFromEnv, HeaderFromSecret, HttpTarget, LambdaTarget

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botocore.config import Config
    from urllib3.util import Retry

    from evalpipe.collect.conversation import Target

__all__ = [
    "HTTP_RETRY_STATUSES",
    "ConverseTarget",
    "HttpEndpoint",
    "LambdaFunction",
    "MissingHeaderValue",
    "adapter_for",
    "boto_config",
    "env_headers",
    "http_retry",
    "secret_headers",
]

HTTP_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ERROR_EXCERPT_CHARS = 300

Clock = Callable[[], float]


class HttpResponse(Protocol):
    status: int
    data: bytes


class HttpPool(Protocol):
    """What the HTTP adapter needs of a ``urllib3.PoolManager``."""

    def request(
        self, method: str, url: str, *, body: bytes, headers: dict[str, str], timeout: float
    ) -> Any: ...


def boto_config(max_attempts: int, concurrency: int, read_timeout: int = 120) -> Config:
    """A botocore client configuration for collecting: standard retries, one connection per worker.

    Standard mode retries throttling errors (ThrottlingException, TooManyRequestsException, ...),
    HTTP 5xx and connection errors with exponential backoff and full jitter, ``max_attempts``
    attempts in all.
    """
    from botocore.config import Config  # noqa: PLC0415 -- botocore only where a client is built

    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # the first call included
        max_pool_connections=max(concurrency, 10),
        read_timeout=read_timeout,
        connect_timeout=10,
    )


def http_retry(max_attempts: int, backoff_seconds: float = 0.5) -> Retry:
    """urllib3's retry policy for an HTTP target: 429 and 5xx, connection and read errors.

    ``max_attempts`` attempts in all. urllib3 retries the first failure at once, then waits
    ``backoff_seconds * 2**(n-1)`` plus up to ``backoff_seconds`` of jitter (at most 20 s), or
    what a ``Retry-After`` header asks (at most 60 s). POST is retried too: a chat request
    sent twice costs a duplicate answer, not a wrong record.
    """
    from urllib3.util import Retry  # noqa: PLC0415

    retries = max_attempts - 1
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=False,
        allowed_methods=None,  # every method
        status_forcelist=HTTP_RETRY_STATUSES,
        backoff_factor=backoff_seconds,
        backoff_jitter=backoff_seconds,
        backoff_max=20,
        respect_retry_after_header=True,
        retry_after_max=60,
        raise_on_status=False,  # the last response comes back; the adapter reports its status
        raise_on_redirect=False,
    )


class MissingHeaderValue(ValueError):
    """An HTTP target header whose environment variable is not set."""


def env_headers(config: HttpTarget, environ: Mapping[str, str]) -> dict[str, str]:
    """The target's header values from the environment (``evalpipe collect`` on a workstation).

    Raises
    ------
    MissingHeaderValue
        Naming every header whose variable is unset or empty.
    """
    secret = [name for name, source in config.headers.items() if not isinstance(source, HeaderFromEnv)]
    if secret:
        raise MissingHeaderValue(
            f"header(s) {', '.join(secret)} read a Secrets Manager secret, which only the pipeline "
            'reads: give them {"env": "VARIABLE"} to collect from a workstation'
        )
    sources = {name: source for name, source in config.headers.items() if isinstance(source, HeaderFromEnv)}
    missing = [f"{name} (${source.env})" for name, source in sources.items() if not environ.get(source.env)]
    if missing:
        raise MissingHeaderValue(f"set the environment variable of header(s) {', '.join(missing)}")
    return {name: source.prefix + environ[source.env] for name, source in sources.items()}


def secret_headers(config: HttpTarget, secret_string: Callable[[str], str]) -> dict[str, str]:
    """The target's header values from Secrets Manager (the pipeline's collect step).

    Parameters
    ----------
    config : HttpTarget
    secret_string : callable
        ``secret_string(arn)`` -> the secret's ``SecretString`` (GetSecretValue), called once per secret.

    Raises
    ------
    MissingHeaderValue
        A header read from the environment (the pipeline has none of the user's), a ``jsonKey``
        the secret lacks, or a secret that is not a JSON object when a key is asked for. The
        message names the header and the secret, never a value.
    """
    strings: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, source in config.headers.items():
        if not isinstance(source, HeaderFromSecret):
            raise MissingHeaderValue(
                f"header {name} reads the environment variable {source.env}, which the pipeline does "
                'not have: give it {"secretArn": "arn:aws:secretsmanager:..."}'
            )
        if source.secret_arn not in strings:
            strings[source.secret_arn] = secret_string(source.secret_arn)
        text = strings[source.secret_arn]
        if source.json_key is not None:
            try:
                document = json.loads(text)
            except ValueError:
                document = None
            value = document.get(source.json_key) if isinstance(document, dict) else None
            if not isinstance(value, str) or not value:
                raise MissingHeaderValue(
                    f"header {name}: secret {source.secret_arn} is not a JSON object with a text "
                    f"value at key {source.json_key!r}"
                )
            text = value
        values[name] = source.prefix + text
    return values


class ConverseTarget:
    """A Bedrock model through Converse, with the tool loop of the practitioner's guide.

    Each user turn makes at most ``maxToolRounds`` Converse calls: while the model answers with
    ``toolUse`` blocks, the scenario's canned result for each tool is sent back as a
    ``toolResult`` and the model is called again. Earlier turns are sent as text (their tool
    exchanges are not replayed).

    Parameters
    ----------
    config : BedrockTarget
    client : botocore client
        A ``bedrock-runtime`` client (see :func:`boto_config`).
    clock : callable, optional
        Monotonic seconds, for the latency.
    """

    def __init__(self, config: BedrockTarget, client: Any, clock: Clock = time.monotonic) -> None:
        self.config = config
        self.client = client
        self.clock = clock

    def respond(self, conversation: Conversation) -> Reply:
        started = self.clock()
        messages: list[dict[str, Any]] = [
            {"role": m.role, "content": [{"text": m.text}]} for m in conversation.messages
        ]
        input_tokens = output_tokens = tool_calls = 0
        for _ in range(self.config.max_tool_rounds):
            response = self.client.converse(**self._request(messages))
            usage = response.get("usage") or {}
            input_tokens += int(usage.get("inputTokens") or 0)
            output_tokens += int(usage.get("outputTokens") or 0)
            content = ((response.get("output") or {}).get("message") or {}).get("content") or []
            uses = [block["toolUse"] for block in content if "toolUse" in block]
            if not uses:
                text = "\n".join(block["text"] for block in content if isinstance(block.get("text"), str))
                latency = round((self.clock() - started) * 1000)
                return Reply(text, input_tokens, output_tokens, latency, tool_calls)
            messages.append({"role": "assistant", "content": content})
            messages.append({"role": "user", "content": [_tool_result(use, conversation) for use in uses]})
            tool_calls += len(uses)
        raise ToolRoundsExceeded(
            f"the model still called tools after {self.config.max_tool_rounds} Converse calls "
            "(maxToolRounds); raise it or check the toolResults"
        )

    def _request(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        config = self.config
        request: dict[str, Any] = {"modelId": config.model_id, "messages": messages}
        if config.system_prompt:
            request["system"] = [{"text": config.system_prompt}]
        if config.inference_config is not None:
            settings = config.inference_config.model_dump(by_alias=True, exclude_none=True)
            if settings:
                request["inferenceConfig"] = settings
        if config.tool_config is not None:
            request["toolConfig"] = config.tool_config
        if config.additional_model_request_fields:
            request["additionalModelRequestFields"] = config.additional_model_request_fields
        return request


def _tool_result(use: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    name = use.get("name", "")
    if name not in conversation.tool_results:
        raise MissingToolResult(name, list(conversation.tool_results))
    canned = conversation.tool_results[name]
    block = {"text": canned} if isinstance(canned, str) else {"json": canned}
    return {"toolResult": {"toolUseId": use.get("toolUseId"), "content": [block], "status": "success"}}


class HttpEndpoint:
    """An app behind HTTP: the rendered body in, the answer at ``answerPath`` out.

    Parameters
    ----------
    config : HttpTarget
    pool : urllib3.PoolManager
        Built with :func:`http_retry` as its ``retries``.
    headers : Mapping[str, str]
        The resolved header values (:func:`env_headers`, or a secret's in the pipeline).
    clock : callable, optional
    """

    def __init__(
        self, config: HttpTarget, pool: HttpPool, headers: Mapping[str, str], clock: Clock = time.monotonic
    ) -> None:
        self.config = config
        self.pool = pool
        self.headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        self.clock = clock

    def respond(self, conversation: Conversation) -> Reply:
        started = self.clock()
        body = json.dumps(render_template(self.config.body, conversation), ensure_ascii=False).encode("utf-8")
        response = self.pool.request(
            self.config.method,
            self.config.url,
            body=body,
            headers=dict(self.headers),
            timeout=self.config.timeout_seconds,
        )
        latency = round((self.clock() - started) * 1000)
        data = bytes(response.data or b"")
        if response.status >= 400:
            raise TargetFailed(f"HTTP {response.status} from {self.config.url}: {_excerpt(data)}")
        return _reply(self.config, _json(data, f"the response of {self.config.url}"), latency)


class LambdaFunction:
    """An app in a Lambda function: the rendered payload in, the answer at ``answerPath`` out.

    Parameters
    ----------
    config : LambdaTarget
    client : botocore client
        A ``lambda`` client (see :func:`boto_config`; give it a read timeout above the function's).
    clock : callable, optional
    """

    def __init__(self, config: LambdaTarget, client: Any, clock: Clock = time.monotonic) -> None:
        self.config = config
        self.client = client
        self.clock = clock

    def respond(self, conversation: Conversation) -> Reply:
        started = self.clock()
        payload = json.dumps(render_template(self.config.payload, conversation), ensure_ascii=False)
        request: dict[str, Any] = {
            "FunctionName": self.config.function_name,
            "InvocationType": "RequestResponse",
            "Payload": payload.encode("utf-8"),
        }
        if self.config.qualifier:
            request["Qualifier"] = self.config.qualifier
        response = self.client.invoke(**request)
        data = response["Payload"].read()
        latency = round((self.clock() - started) * 1000)
        if response.get("FunctionError"):
            raise TargetFailed(f"function {self.config.function_name} failed: {_function_error(data)}")
        return _reply(self.config, _json(data, f"the result of {self.config.function_name}"), latency)


def _reply(config: HttpTarget | LambdaTarget, document: Any, latency: int) -> Reply:
    return Reply(
        text=answer_at(config.answer_path, document),
        input_tokens=tokens_at(config.input_tokens_path, document),
        output_tokens=tokens_at(config.output_tokens_path, document),
        latency_ms=latency,
    )


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise TargetFailed(f"{what} is not JSON: {_excerpt(data)}") from None


def _function_error(data: bytes) -> str:
    try:
        error = json.loads(data)
    except ValueError:
        return _excerpt(data)
    if isinstance(error, dict) and "errorMessage" in error:
        return f"{error.get('errorType', 'Error')}: {error['errorMessage']}"
    return _excerpt(data)


def _excerpt(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip() or "(empty body)"
    return text if len(text) <= ERROR_EXCERPT_CHARS else text[:ERROR_EXCERPT_CHARS] + "..."


def adapter_for(
    config: BedrockTarget | HttpTarget | LambdaTarget,
    *,
    bedrock_runtime: Any = None,
    lambda_client: Any = None,
    http: HttpPool | None = None,
    headers: Mapping[str, str] | None = None,
) -> Target:
    """The adapter of ``config``'s type, on the client it needs (ValueError when it is missing)."""
    if isinstance(config, BedrockTarget):
        if bedrock_runtime is None:
            raise ValueError("a bedrock target needs a bedrock-runtime client")
        return ConverseTarget(config, bedrock_runtime)
    if isinstance(config, HttpTarget):
        if http is None:
            raise ValueError("an http target needs an HTTP pool")
        if headers is None and config.headers:
            raise ValueError("an http target with headers needs their resolved values")
        return HttpEndpoint(config, http, headers or {})
    if lambda_client is None:
        raise ValueError("a lambda target needs a lambda client")
    return LambdaFunction(config, lambda_client)
