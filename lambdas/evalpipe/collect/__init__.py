"""Collect a dataset from scenarios: play each scenario's conversation against the app under
test (a Bedrock model, an HTTP endpoint or a Lambda function) and write the records the suite
grades (docs/collect.md).

Pure logic: adapters take their clients from the caller, nothing is created at import time, and
nothing here needs rich or a terminal (``evalpipe collect`` adds those), so a Lambda can run it.
"""

from evalpipe.collect.adapters import (
    ConverseTarget,
    HttpEndpoint,
    LambdaFunction,
    MissingHeaderValue,
    adapter_for,
    boto_config,
    env_headers,
    http_retry,
)
from evalpipe.collect.collector import CollectOptions, JsonlSink, Outcome, Progress, Summary, collect, play
from evalpipe.collect.conversation import (
    DEFAULT_STRIP_TAGS,
    Conversation,
    Message,
    Reply,
    Target,
    format_prompt,
    strip_reasoning,
)
from evalpipe.collect.errors import (
    CollectError,
    InputError,
    MissingToolResult,
    TargetFailed,
    ToolRoundsExceeded,
)
from evalpipe.collect.records import RecordCheck, Resume, collected_ids, meta_path_for
from evalpipe.collect.scenarios import Scenario, load_scenarios
from evalpipe.collect.targets import (
    BedrockTarget,
    HttpTarget,
    LambdaTarget,
    TargetConfig,
    parse_target,
    target_from_text,
)

__all__ = [
    "DEFAULT_STRIP_TAGS",
    "BedrockTarget",
    "CollectError",
    "CollectOptions",
    "Conversation",
    "ConverseTarget",
    "HttpEndpoint",
    "HttpTarget",
    "InputError",
    "JsonlSink",
    "LambdaFunction",
    "LambdaTarget",
    "Message",
    "MissingHeaderValue",
    "MissingToolResult",
    "Outcome",
    "Progress",
    "RecordCheck",
    "Reply",
    "Resume",
    "Scenario",
    "Summary",
    "Target",
    "TargetConfig",
    "TargetFailed",
    "ToolRoundsExceeded",
    "adapter_for",
    "boto_config",
    "collect",
    "collected_ids",
    "env_headers",
    "format_prompt",
    "http_retry",
    "load_scenarios",
    "meta_path_for",
    "parse_target",
    "play",
    "strip_reasoning",
    "target_from_text",
]
