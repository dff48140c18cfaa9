"""Rules for the suite's ``pipeline`` block: our own settings (docs/suite-file.md).

Values that end up in the request (description, tags) are checked against the service
model's shapes for the request members they become.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from evalpipe.collect.targets import BedrockTarget, HttpTarget, LambdaTarget
from evalpipe.run.timing import STATE_MACHINE_TIMEOUT_SECONDS, STOP_MARGIN_SECONDS
from evalpipe.run.triggers import JOB_NAME_PATTERN
from evalpipe.suite.datasets import SCHEDULE_NEEDS_BUILTIN_DATASETS, runs_on_request
from evalpipe.suite.metrics import BUILTIN_PREFIX
from evalpipe.suite.pipeline import MAX_JOB_RECORDS, CollectSettings
from evalpipe.suite.schedule_expression import check_expression, check_timezone
from evalpipe.validation.problems import Problem, Severity, json_type, key_path, show
from evalpipe.validation.service_model import ShapeWalker, shape

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from evalpipe.suite.facts import SuiteFacts
    from evalpipe.validation.deployment import CollectAccess, DeploymentLimits

PIPELINE_KEYS = (
    "description",
    "jobTags",
    "lowScore",
    "notification",
    "regression",
    "polling",
    "shardSize",
    "schedule",
    "collect",
)
LOW_SCORE_KEYS = ("builtin", "custom", "metrics")
# A low-score rule gives exactly one of these keys (evalpipe.suite.LowScoreRule).
RULE_KEYS = ("below", "atOrBelow", "above", "atOrAbove")
_RULE_MEANINGS = "'below' (score < value), 'atOrBelow' (<=), 'above' (>) or 'atOrAbove' (>=)"
NOTIFICATION_KEYS = ("maxLowRecords",)
REGRESSION_KEYS = ("baselineRunId", "minScoredRecords", "default", "metrics", "method", "minPairs")
REGRESSION_METHODS = ("bootstrap", "threshold")
LIMIT_KEYS = ("maxAbsoluteDrop", "maxRelativeDrop", "tolerance")
SCHEDULE_KEYS = ("expression", "timezone", "enabled", "flexibleWindowMinutes")
# pipeline.polling key -> (least, greatest or None); evalpipe.run.timing checks the combination.
POLLING_BOUNDS = {
    "intervalSeconds": (1, 3_600),
    "jobTimeoutSeconds": (60, STATE_MACHINE_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS),
    "humanPollMinSeconds": (1, None),
    "humanPollMaxSeconds": (1, None),
    "humanJobTimeoutSeconds": (60, STATE_MACHINE_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS),
}
MAX_FLEXIBLE_WINDOW_MINUTES = 1440  # EventBridge Scheduler's FlexibleTimeWindow maximum
MAX_LOW_RECORDS = 50
# Compared case-insensitively: the pipeline adds evalpipe:suite and evalpipe:run-id to every
# job, and AWS reserves aws: for its own tags (the same rule as evalpipe.suite).
RESERVED_TAG_PREFIXES = {"evalpipe:": "is reserved for the pipeline's own tags", "aws:": "is reserved by AWS"}
PIPELINE_TAG_COUNT = 2
MAX_JOB_TAGS = 200  # TagList max in the service model
# TagKey's \s admits tabs and line breaks; evalpipe.suite allows only the space.
_TAG_KEY_BREAKS = re.compile(r"[\t\n\r\f\v]")


def check_pipeline(
    pipeline: object,
    facts: SuiteFacts,
    file: str,
    *,
    suite: object = None,
    limits: DeploymentLimits | None = None,
) -> Iterator[Problem]:
    """Yield the problems of the ``pipeline`` block (any value); ``suite`` is the whole raw suite
    (the schedule rule reads its datasets), ``limits`` what the deployment lets ``collect`` call."""
    walker = ShapeWalker(file)
    if not isinstance(pipeline, dict):
        yield _error(file, "pipeline", f"must be an object, not {json_type(pipeline)}")
        return
    for key, value in pipeline.items():
        path = _child("pipeline", key)
        if key == "description":
            # Sent as jobDescription.
            yield from walker.walk(value, shape("EvaluationJobDescription"), path)
        elif key == "jobTags":
            yield from _job_tags(value, path, walker)
        elif key == "lowScore":
            yield from _low_score(value, path, facts, file)
        elif key == "regression":
            yield from _regression(value, path, facts, file)
        elif key == "schedule":
            yield from _schedule(value, path, suite, file)
        elif key == "collect":
            yield from check_collect(value, path, facts, file, limits.collect if limits else None)
        elif key in _VALUE_RULES:
            yield from _VALUE_RULES[key](value, path, file)
        else:
            yield _unknown(file, path, key, PIPELINE_KEYS)


def check_collect(
    collect: object, path: str, facts: SuiteFacts, file: str, access: CollectAccess | None
) -> Iterator[Problem]:
    """``pipeline.collect``: its shape (`evalpipe.suite.pipeline.CollectSettings`), a suite whose
    records carry precomputed responses, and a target the deployment lets the collect function call
    (``access``; None: not checked)."""
    from pydantic import ValidationError  # noqa: PLC0415

    from evalpipe.collect.errors import describe_validation_error  # noqa: PLC0415

    try:
        settings = CollectSettings.model_validate(collect)
    except ValidationError as error:
        for line in describe_validation_error(error):
            where, _, message = line.partition(": ")
            if where == "(document)" and message.startswith("target."):  # the model's own check
                where, _, message = message.partition(": ")
            field = path if where == "(document)" else f"{path}.{where}"
            yield _error(file, field.replace(" (the key)", ""), message)
        return
    if facts.precomputed_identifier is None:
        yield _error(
            file,
            path,
            "collects precomputed responses: the suite's inferenceConfig must name one "
            "precomputedInferenceSource (its inferenceSourceIdentifier goes on every record)",
        )
    if access is not None:
        yield from _collect_access(settings, path, file, access)


def _collect_access(
    settings: CollectSettings, path: str, file: str, access: CollectAccess
) -> Iterator[Problem]:
    target = settings.target
    if isinstance(target, BedrockTarget) and target.model_id not in access.models:
        yield _error(
            file,
            f"{path}.target.modelId",
            f"model {target.model_id!r} is not one the deployment lets the collect function call: add "
            f"it to the cdk.json context setting collectModels ({_listed(access.models)}) and deploy",
        )
    elif isinstance(target, HttpTarget):
        for name, source in target.headers.items():
            arn = getattr(source, "secret_arn", None)
            if arn is not None and arn not in access.secrets:
                yield _error(
                    file,
                    f"{path}.target.headers.{name}.secretArn",
                    f"secret {arn} is not one the deployment lets the collect function read: add it "
                    f"to the cdk.json context setting collectSecrets ({_listed(access.secrets)}) and deploy",
                )
    elif isinstance(target, LambdaTarget) and not _function_allowed(target.function_name, access.functions):
        yield _error(
            file,
            f"{path}.target.functionName",
            f"function {target.function_name!r} is not one the deployment lets the collect function "
            "invoke: add its ARN to the cdk.json context setting collectFunctions "
            f"({_listed(access.functions)}) and deploy",
        )


def _function_allowed(name: str, allowed: Sequence[str]) -> bool:
    """A function named by ARN (or partial ARN / name) whose ARN the deployment lists."""
    return any(name == arn or arn.endswith(f":function:{name}") for arn in allowed)


def _listed(values: Sequence[str]) -> str:
    return "now: " + ", ".join(values) if values else "now empty"


def _shard_size(value: object, path: str, file: str) -> Iterator[Problem]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOB_RECORDS:
        yield _error(
            file,
            path,
            f"must be a whole number of records from 1 to {MAX_JOB_RECORDS} (what one job takes), "
            f"not {show(value)}",
        )


def _job_tags(tags: object, path: str, walker: ShapeWalker) -> Iterator[Problem]:
    file = walker.file
    if not isinstance(tags, dict):
        yield _error(file, path, f"must be an object of tag key -> value, not {json_type(tags)}")
        return
    room = MAX_JOB_TAGS - PIPELINE_TAG_COUNT
    if len(tags) > room:
        yield _error(file, path, f"has {len(tags)} tags; at most {room} fit beside the pipeline's own tags")
    for key, value in tags.items():
        tag_path = _child(path, key)
        if not isinstance(key, str):
            yield _error(file, path, f"has a non-string key {show(key)}")
            continue
        for prefix, reason in RESERVED_TAG_PREFIXES.items():
            if key.lower().startswith(prefix):
                yield _error(file, tag_path, f"the tag key prefix {prefix!r} {reason}; choose another key")
        if _TAG_KEY_BREAKS.search(key):
            yield _error(file, tag_path, "tag keys may contain spaces but no tabs or line breaks")
        yield from walker.walk(key, shape("TagKey"), tag_path)
        yield from walker.walk(value, shape("TagValue"), tag_path)


def _low_score(low: object, path: str, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    if not isinstance(low, dict):
        yield _error(file, path, f"must be an object, not {json_type(low)}")
        return
    for key, value in low.items():
        child = _child(path, key)
        if key in ("builtin", "custom"):
            yield from _rule(value, child, file)
        elif key == "metrics":
            yield from _metric_rules(value, child, facts, file)
        else:
            yield _unknown(file, child, key, LOW_SCORE_KEYS)


def _metric_rules(rules: object, path: str, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    if not isinstance(rules, dict):
        yield _error(file, path, f"must be an object of metric name -> rule, not {json_type(rules)}")
        return
    for name, rule in rules.items():
        child = _child(path, name)
        yield from _evaluated(name, child, facts, file, "rule")
        yield from _rule(rule, child, file)


def _evaluated(name: object, path: str, facts: SuiteFacts, file: str, what: str) -> Iterator[Problem]:
    """A setting for a metric the job does not compute never applies: likely a typo."""
    evaluated = sorted({named.value for named in facts.metric_names})
    # Classic jobs' outputs drop the prefix, so a setting may name a built-in either way.
    matches = set(evaluated) | {metric.removeprefix(BUILTIN_PREFIX) for metric in evaluated}
    if evaluated and name not in matches:
        yield _error(
            file,
            path,
            f"{show(name)} is not in this suite's metricNames, so the {what} would never apply; "
            f"use one of: {', '.join(evaluated)}",
        )


def _rule(rule: object, path: str, file: str) -> Iterator[Problem]:
    if not isinstance(rule, dict):
        yield _error(file, path, f'must be an object like {{"below": 0.5}}, not {json_type(rule)}')
        return
    for key in rule:
        if key not in RULE_KEYS:
            yield _unknown(file, _child(path, key), key, RULE_KEYS)
    given = [key for key in RULE_KEYS if key in rule]
    if len(given) != 1:
        found = f"; found {len(given)}: {', '.join(given)}" if given else ""
        message = f"give exactly one of {_RULE_MEANINGS} to say which scores are flagged{found}"
        yield _error(file, path, message)
    for key in given:
        value = rule[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (isinstance(value, float) and not math.isfinite(value)):
            yield _error(file, _child(path, key), f"must be a number, not {show(value)}")


def _notification(notification: object, path: str, file: str) -> Iterator[Problem]:
    if not isinstance(notification, dict):
        yield _error(file, path, f"must be an object, not {json_type(notification)}")
        return
    for key, value in notification.items():
        child = _child(path, key)
        if key != "maxLowRecords":
            yield _unknown(file, child, key, NOTIFICATION_KEYS)
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LOW_RECORDS:
            yield _error(file, child, f"must be an integer from 0 to {MAX_LOW_RECORDS}, not {show(value)}")


def _regression(regression: object, path: str, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    if not isinstance(regression, dict):
        yield _error(file, path, f"must be an object, not {json_type(regression)}")
        return
    for key, value in regression.items():
        child = _child(path, key)
        if key == "baselineRunId":
            # null = no pinned baseline (the model's default).
            if value is not None and (not isinstance(value, str) or not JOB_NAME_PATTERN.match(value)):
                yield _error(
                    file,
                    child,
                    f"must be the run id of a run of this suite (lowercase letters, digits and hyphens, "
                    f"as in the run's notification), not {show(value)}",
                )
        elif key == "minScoredRecords":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                yield _error(file, child, f"must be an integer of at least 1, not {show(value)}")
        elif key in ("method", "minPairs"):
            yield from _bootstrap_setting(key, value, child, file)
        elif key == "default":
            yield from _limits(value, child, file)
        elif key == "metrics":
            yield from _metric_limits(value, child, facts, file)
        else:
            yield _unknown(file, child, key, REGRESSION_KEYS)


def _bootstrap_setting(key: str, value: object, path: str, file: str) -> Iterator[Problem]:
    """``method`` and ``minPairs`` of ``pipeline.regression``."""
    if key == "method" and value not in REGRESSION_METHODS:
        yield _error(file, path, f"must be one of {', '.join(REGRESSION_METHODS)}, not {show(value)}")
    elif key == "minPairs" and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        yield _error(file, path, f"must be an integer of at least 2, not {show(value)}")


def _metric_limits(metrics: object, path: str, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    if not isinstance(metrics, dict):
        yield _error(file, path, f"must be an object of metric name -> limits, not {json_type(metrics)}")
        return
    for name, limits in metrics.items():
        child = _child(path, name)
        yield from _evaluated(name, child, facts, file, "limit")
        yield from _limits(limits, child, file)


def _limits(limits: object, path: str, file: str) -> Iterator[Problem]:
    if not isinstance(limits, dict):
        example = '{"maxAbsoluteDrop": 0.1}'
        yield _error(file, path, f"must be an object like {example}, not {json_type(limits)}")
        return
    for key, value in limits.items():
        child = _child(path, key)
        if key not in LIMIT_KEYS:
            yield _unknown(file, child, key, LIMIT_KEYS)
        elif value is None:
            continue  # null turns the check off
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
            or value < 0
        ):
            message = f"must be a number of at least 0 (or null to turn the check off), not {show(value)}"
            yield _error(file, child, message)


def _polling(polling: object, path: str, file: str) -> Iterator[Problem]:
    """``pipeline.polling``: whole numbers of seconds overriding the deployment's for this suite."""
    if not isinstance(polling, dict):
        yield _error(
            file, path, f'must be an object like {{"intervalSeconds": 300}}, not {json_type(polling)}'
        )
        return
    for key, value in polling.items():
        child = _child(path, key)
        if key not in POLLING_BOUNDS:
            yield _unknown(file, child, key, tuple(POLLING_BOUNDS))
            continue
        if value is None:
            continue  # null = the deployment's value
        least, greatest = POLLING_BOUNDS[key]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or value < least or (greatest is not None and value > greatest):
            bounds = f"from {least} to {greatest}" if greatest is not None else f"of at least {least}"
            yield _error(file, child, f"must be a whole number of seconds {bounds}, not {show(value)}")
    low, high = polling.get("humanPollMinSeconds"), polling.get("humanPollMaxSeconds")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield _error(
            file,
            _child(path, "humanPollMinSeconds"),
            f"({low}) must not be above humanPollMaxSeconds ({high})",
        )


def _schedule(schedule: object, path: str, suite: object, file: str) -> Iterator[Problem]:
    """``pipeline.schedule``: an EventBridge Scheduler expression, a time zone, on/off and a window.

    A schedule runs the suite with no dataset drop, so it is only for suites that name nothing
    but built-in datasets, or that collect their dataset from ``pipeline.collect.scenarios``
    (``evalpipe.suite.datasets.runs_on_request``).
    """
    if schedule is None:
        return  # null = no schedule (the model's default)
    if not isinstance(schedule, dict):
        example = '{"expression": "rate(7 days)"}'
        yield _error(file, path, f"must be an object like {example}, not {json_type(schedule)}")
        return
    if suite is not None and not runs_on_request(suite):
        yield _error(file, path, SCHEDULE_NEEDS_BUILTIN_DATASETS)
    if "expression" not in schedule:
        example = "'rate(7 days)' or 'cron(0 6 ? * MON *)'"
        yield _error(file, _child(path, "expression"), f"is required, e.g. {example}")
    for key, value in schedule.items():
        child = _child(path, key)
        check = _SCHEDULE_CHECKS.get(key)
        if check is None:
            yield _unknown(file, child, key, SCHEDULE_KEYS)
            continue
        problem = check(value)
        if problem:
            yield _error(file, child, problem)


def _check_enabled(value: object) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {show(value)}"


def _check_flexible_window(value: object) -> str | None:
    """Null turns the window off; else whole minutes up to the scheduler's maximum."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_FLEXIBLE_WINDOW_MINUTES:
        return None
    return f"must be a whole number of minutes from 1 to {MAX_FLEXIBLE_WINDOW_MINUTES}, not {show(value)}"


# pipeline.schedule key -> why its value is wrong (None when it is fine); the keys are SCHEDULE_KEYS.
_SCHEDULE_CHECKS: dict[str, Callable[[object], str | None]] = {
    "expression": check_expression,
    "timezone": check_timezone,
    "enabled": _check_enabled,
    "flexibleWindowMinutes": _check_flexible_window,
}


def _child(path: str, key: object) -> str:
    return key_path(path, key) if isinstance(key, str) else f"{path}[{show(key)}]"


def _unknown(file: str, path: str, key: object, allowed: tuple[str, ...]) -> Problem:
    return _error(file, path, f"unknown key {show(key)}; allowed: {', '.join(allowed)}")


def _error(file: str, path: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message, field=path)


# pipeline keys whose value alone decides: key -> rule(value, path, file).
_VALUE_RULES: dict[str, Callable[[object, str, str], Iterator[Problem]]] = {
    "notification": _notification,
    "polling": _polling,
    "shardSize": _shard_size,
}
