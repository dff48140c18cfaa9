"""The app under test, as configured: one model, a union discriminated by ``type``.

``bedrock`` (a model through bedrock-runtime Converse, with an optional tool loop), ``http``
(an endpoint taking a JSON body) and ``lambda`` (a function invoked synchronously). The same
model describes a target wherever one is named: ``evalpipe collect --target FILE.json`` and a
suite's collection settings.

HTTP header values never appear in the configuration: each header names where its value comes
from (``{"env": "APP_TOKEN", "prefix": "Bearer "}``, or ``{"secretArn": ...}`` for a Secrets
Manager secret), and whoever builds the adapter resolves it
(:func:`evalpipe.collect.adapters.env_headers` on a workstation,
:func:`evalpipe.collect.adapters.secret_headers` in the pipeline) and passes the values in.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from evalpipe.collect.conversation import DEFAULT_STRIP_TAGS, TAG_NAME
from evalpipe.collect.errors import InputError, describe_validation_error
from evalpipe.collect.payload import check_path, check_template

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "BedrockTarget",
    "HeaderFromEnv",
    "HeaderFromSecret",
    "HeaderSource",
    "HttpTarget",
    "InferenceSettings",
    "LambdaTarget",
    "TargetConfig",
    "parse_target",
]

DEFAULT_MAX_TOOL_ROUNDS = 10  # the guide's MAX_TOOL_ROUNDS
MAX_TOOL_ROUNDS = 50
DEFAULT_TEMPLATE: dict[str, JsonValue] = {"messages": "{{messages}}"}
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an HTTP token (RFC 9110)
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_ARN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"


class _Target(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    model_identifier: str | None = Field(
        default=None,
        min_length=1,
        alias="modelIdentifier",
        description=(
            "modelResponses[0].modelIdentifier of the records when no suite is given (with a suite, its "
            "inferenceSourceIdentifier). Default: the model id, the URL's host or the function name."
        ),
    )
    strip_tags: tuple[str, ...] = Field(
        default=DEFAULT_STRIP_TAGS,
        alias="stripTags",
        description="Reasoning tags removed from answers with their content ([] keeps answers as they are).",
    )

    @field_validator("strip_tags")
    @classmethod
    def _tag_names(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        bad = [tag for tag in tags if not TAG_NAME.match(tag)]
        if bad:
            raise ValueError(
                f"not tag names (give 'thinking', not '<thinking>'): {', '.join(map(repr, bad))}"
            )
        return tags

    @property
    @abstractmethod
    def default_identifier(self) -> str:
        """The records' modelIdentifier when neither a suite nor ``modelIdentifier`` gives one."""

    @property
    def identifier(self) -> str:
        """The records' modelIdentifier when no suite decides it."""
        return self.model_identifier or self.default_identifier


class InferenceSettings(BaseModel):
    """Converse's inferenceConfig (what the target model is called with)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    max_tokens: int | None = Field(default=None, ge=1, alias="maxTokens")
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1, alias="topP")
    stop_sequences: list[str] | None = Field(default=None, max_length=2500, alias="stopSequences")


class BedrockTarget(_Target):
    """A Bedrock model through bedrock-runtime Converse, answering like the app does."""

    type: Literal["bedrock"]
    model_id: str = Field(
        min_length=1,
        alias="modelId",
        description="Model id, inference profile id or ARN (Converse's modelId).",
        examples=["amazon.nova-lite-v1:0"],
    )
    system_prompt: str | None = Field(
        default=None, alias="systemPrompt", description="The app's system prompt."
    )
    inference_config: InferenceSettings | None = Field(default=None, alias="inferenceConfig")
    tool_config: dict[str, Any] | None = Field(
        default=None,
        alias="toolConfig",
        description=(
            'Converse\'s toolConfig ({"tools": [{"toolSpec": ...}], "toolChoice": ...}), sent as is. '
            "Tool calls are answered with the scenario's toolResults."
        ),
    )
    additional_model_request_fields: dict[str, Any] | None = Field(
        default=None, alias="additionalModelRequestFields", description="Model-specific request fields."
    )
    max_tool_rounds: int = Field(
        default=DEFAULT_MAX_TOOL_ROUNDS,
        ge=1,
        le=MAX_TOOL_ROUNDS,
        alias="maxToolRounds",
        description=(
            "Converse calls per user turn at most: when the model still asks for a tool in the last "
            "one, the scenario fails."
        ),
    )

    @field_validator("tool_config")
    @classmethod
    def _tools(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        if config is not None and not (isinstance(config.get("tools"), list) and config["tools"]):
            raise ValueError('needs "tools": a non-empty array of {"toolSpec": {...}}, as Converse takes it')
        return config

    @property
    def default_identifier(self) -> str:
        return self.model_id


class _AppTarget(_Target):
    """What HTTP and Lambda targets share: a JSON template in, JSONPaths out."""

    answer_path: str = Field(
        alias="answerPath",
        description="JSONPath of the answer text in the app's JSON response.",
        examples=["$.answer", "$.choices[0].message.content"],
    )
    input_tokens_path: str | None = Field(default=None, alias="inputTokensPath")
    output_tokens_path: str | None = Field(default=None, alias="outputTokensPath")

    @field_validator("answer_path", "input_tokens_path", "output_tokens_path")
    @classmethod
    def _path(cls, path: str | None) -> str | None:
        return None if path is None else check_path(path)

    @staticmethod
    def _check_template(template: JsonValue) -> JsonValue:
        unknown = check_template(template)
        if unknown:
            raise ValueError(
                f"unknown template variable(s) {', '.join(unknown)}: use messages, message, transcript, "
                "scenarioId, context or context.<key>"
            )
        return template


class HeaderFromEnv(BaseModel):
    """A header value read from an environment variable (never written in the file)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    env: str = Field(pattern=ENV_NAME, description="The environment variable holding the value.")
    prefix: str = Field(default="", description="Put before the value, e.g. 'Bearer '.")


class HeaderFromSecret(BaseModel):
    """A header value read from a Secrets Manager secret (the pipeline's source of header values)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    secret_arn: str = Field(
        alias="secretArn",
        pattern=SECRET_ARN,
        description="ARN of the secret holding the value (the deployment's collectSecrets must list it).",
    )
    json_key: str | None = Field(
        default=None,
        min_length=1,
        alias="jsonKey",
        description="When the secret string is a JSON object: the key of the value in it.",
    )
    prefix: str = Field(default="", description="Put before the value, e.g. 'Bearer '.")


def _header_source(value: object) -> str:
    """Which source a header names: a secret when it has ``secretArn``, else the environment."""
    if isinstance(value, dict):
        return "HeaderFromSecret" if "secretArn" in value else "HeaderFromEnv"
    return "HeaderFromSecret" if isinstance(value, HeaderFromSecret) else "HeaderFromEnv"


# One branch is tried (errors name that branch's fields only): `{"secretArn": ...}` or `{"env": ...}`.
HeaderSource = Annotated[
    Annotated[HeaderFromEnv, Tag("HeaderFromEnv")] | Annotated[HeaderFromSecret, Tag("HeaderFromSecret")],
    Discriminator(_header_source),
]


class HttpTarget(_AppTarget):
    """An HTTP(S) endpoint of the app that takes the conversation as JSON and answers in JSON."""

    type: Literal["http"]
    url: str = Field(description="http:// or https:// URL the body is sent to.")
    method: Literal["POST", "PUT"] = "POST"
    body: JsonValue = Field(
        default_factory=lambda: dict(DEFAULT_TEMPLATE),
        description=(
            "JSON body template: {{messages}}, {{message}}, {{transcript}}, {{scenarioId}}, {{context}}."
        ),
    )
    headers: dict[Annotated[str, Field(pattern=HEADER_NAME)], HeaderSource] = Field(
        default_factory=dict,
        description=(
            'Headers by name, each {"env": "VARIABLE", "prefix": "Bearer "} (evalpipe collect) or '
            '{"secretArn": "arn:...", "jsonKey": "token", "prefix": "Bearer "} (a Secrets Manager '
            "secret; the pipeline's only source): values never sit in the file."
        ),
    )
    timeout_seconds: float = Field(default=60, gt=0, le=900, alias="timeoutSeconds")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; send them in a header read from the environment")
        return url

    @field_validator("body")
    @classmethod
    def _body(cls, body: JsonValue) -> JsonValue:
        return cls._check_template(body)

    @property
    def default_identifier(self) -> str:
        return urlsplit(self.url).hostname or self.url


class LambdaTarget(_AppTarget):
    """A Lambda function of the app, invoked synchronously with a JSON payload."""

    type: Literal["lambda"]
    function_name: str = Field(
        min_length=1,
        alias="functionName",
        description="Function name, ARN or partial ARN (Invoke's FunctionName).",
    )
    qualifier: str | None = Field(default=None, description="Version or alias.")
    payload: JsonValue = Field(
        default_factory=lambda: dict(DEFAULT_TEMPLATE),
        description="JSON payload template (the same variables as an HTTP body).",
    )

    @field_validator("payload")
    @classmethod
    def _payload(cls, payload: JsonValue) -> JsonValue:
        return cls._check_template(payload)

    @property
    def default_identifier(self) -> str:
        return self.function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]


TargetConfig = Annotated[BedrockTarget | HttpTarget | LambdaTarget, Field(discriminator="type")]
# Built on first use: the suite model names these targets, so every function imports this module.
_TARGET = TypeAdapter[BedrockTarget | HttpTarget | LambdaTarget](
    TargetConfig, config=ConfigDict(defer_build=True)
)

SHORTHANDS = {"bedrock": ("modelId",)}


def parse_target(value: object, source: str = "target") -> BedrockTarget | HttpTarget | LambdaTarget:
    """A target configuration from its parsed JSON.

    Raises
    ------
    InputError
        With one ``"<path>: <problem>"`` entry per problem.
    """
    try:
        return _TARGET.validate_python(value)
    except ValidationError as error:
        raise InputError(source, describe_validation_error(error)) from None


def target_from_text(text: str, source: str) -> BedrockTarget | HttpTarget | LambdaTarget:
    """A target from a command-line value: JSON text, or the shorthand ``bedrock:MODEL_ID``.

    Examples
    --------
    >>> target_from_text("bedrock:amazon.nova-lite-v1:0", "--target").model_id
    'amazon.nova-lite-v1:0'
    """
    from evalpipe.validation.strict_json import parse_strict  # noqa: PLC0415 -- the suite model imports this module

    stripped = text.strip()
    kind, _, rest = stripped.partition(":")
    if not stripped.startswith("{") and kind in SHORTHANDS and rest:
        return parse_target({"type": kind, SHORTHANDS[kind][0]: rest}, source)
    parsed = parse_strict(stripped)
    if parsed.error is not None:
        raise InputError(source, [f"not valid JSON, nor bedrock:MODEL_ID: {parsed.error}"])
    if parsed.duplicate_keys:
        raise InputError(
            source, [f"key(s) {', '.join(map(repr, parsed.duplicate_keys))} appear twice in one object"]
        )
    return parse_target(parsed.value, source)
