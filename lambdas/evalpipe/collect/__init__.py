"""Collect a dataset from scenarios: play each scenario's conversation against the app under
test (a Bedrock model, an HTTP endpoint or a Lambda function) and write the records the suite
grades (docs/collect.md).

Pure logic: adapters take their clients from the caller, nothing is created at import time, and
nothing here needs rich or a terminal (``evalpipe collect`` adds those), so a Lambda can run it.

Names are imported on first use (PEP 562): the suite model imports `evalpipe.collect.targets`
alone, without the collector and its validation rules (which import the suite model).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy and readers see; at run time, __getattr__ below
    from evalpipe.collect.adapters import (
        ConverseTarget,
        HttpEndpoint,
        LambdaFunction,
        MissingHeaderValue,
        adapter_for,
        boto_config,
        env_headers,
        http_retry,
        secret_headers,
    )
    from evalpipe.collect.collector import (
        CollectOptions,
        JsonlSink,
        Outcome,
        Progress,
        Summary,
        collect,
        play,
    )
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
    from evalpipe.collect.records import (
        RecordCheck,
        Resume,
        collected_ids,
        meta_path_for,
    )
    from evalpipe.collect.scenarios import (
        Scenario,
        load_scenarios,
    )
    from evalpipe.collect.targets import (
        BedrockTarget,
        HttpTarget,
        LambdaTarget,
        TargetConfig,
        parse_target,
        target_from_text,
    )

_EXPORTS = {
    "BedrockTarget": "evalpipe.collect.targets",
    "CollectError": "evalpipe.collect.errors",
    "CollectOptions": "evalpipe.collect.collector",
    "Conversation": "evalpipe.collect.conversation",
    "ConverseTarget": "evalpipe.collect.adapters",
    "DEFAULT_STRIP_TAGS": "evalpipe.collect.conversation",
    "HttpEndpoint": "evalpipe.collect.adapters",
    "HttpTarget": "evalpipe.collect.targets",
    "InputError": "evalpipe.collect.errors",
    "JsonlSink": "evalpipe.collect.collector",
    "LambdaFunction": "evalpipe.collect.adapters",
    "LambdaTarget": "evalpipe.collect.targets",
    "Message": "evalpipe.collect.conversation",
    "MissingHeaderValue": "evalpipe.collect.adapters",
    "MissingToolResult": "evalpipe.collect.errors",
    "Outcome": "evalpipe.collect.collector",
    "Progress": "evalpipe.collect.collector",
    "RecordCheck": "evalpipe.collect.records",
    "Reply": "evalpipe.collect.conversation",
    "Resume": "evalpipe.collect.records",
    "Scenario": "evalpipe.collect.scenarios",
    "Summary": "evalpipe.collect.collector",
    "Target": "evalpipe.collect.conversation",
    "TargetConfig": "evalpipe.collect.targets",
    "TargetFailed": "evalpipe.collect.errors",
    "ToolRoundsExceeded": "evalpipe.collect.errors",
    "adapter_for": "evalpipe.collect.adapters",
    "boto_config": "evalpipe.collect.adapters",
    "collect": "evalpipe.collect.collector",
    "collected_ids": "evalpipe.collect.records",
    "env_headers": "evalpipe.collect.adapters",
    "format_prompt": "evalpipe.collect.conversation",
    "http_retry": "evalpipe.collect.adapters",
    "load_scenarios": "evalpipe.collect.scenarios",
    "meta_path_for": "evalpipe.collect.records",
    "parse_target": "evalpipe.collect.targets",
    "play": "evalpipe.collect.collector",
    "secret_headers": "evalpipe.collect.adapters",
    "strip_reasoning": "evalpipe.collect.conversation",
    "target_from_text": "evalpipe.collect.targets",
}

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
    "secret_headers",
    "strip_reasoning",
    "target_from_text",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
