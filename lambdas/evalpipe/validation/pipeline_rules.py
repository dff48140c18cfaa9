"""Rules for the suite's ``pipeline`` block: our own settings (docs/suite-file.md).

Values that end up in the request (description, tags) are checked against the service
model's shapes for the request members they become.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from evalpipe.runs import JOB_NAME_PATTERN
from evalpipe.validation.facts import SuiteFacts
from evalpipe.validation.metrics import BUILTIN_PREFIX
from evalpipe.validation.problems import Problem, Severity, json_type, key_path, show
from evalpipe.validation.service_model import ShapeWalker, shape

PIPELINE_KEYS = ("description", "jobTags", "lowScore", "notification", "regression")
LOW_SCORE_KEYS = ("builtin", "custom", "metrics")
# A low-score rule gives exactly one of these keys (evalpipe.suite.LowScoreRule).
RULE_KEYS = ("below", "atOrBelow", "above", "atOrAbove")
_RULE_MEANINGS = "'below' (score < value), 'atOrBelow' (<=), 'above' (>) or 'atOrAbove' (>=)"
NOTIFICATION_KEYS = ("maxLowRecords",)
REGRESSION_KEYS = ("baselineRunId", "minScoredRecords", "default", "metrics")
LIMIT_KEYS = ("maxAbsoluteDrop", "maxRelativeDrop")
MAX_LOW_RECORDS = 50
# Compared case-insensitively: the pipeline adds evalpipe:suite and evalpipe:run-id to every
# job, and AWS reserves aws: for its own tags (the same rule as evalpipe.suite).
RESERVED_TAG_PREFIXES = {"evalpipe:": "is reserved for the pipeline's own tags", "aws:": "is reserved by AWS"}
PIPELINE_TAG_COUNT = 2
MAX_JOB_TAGS = 200  # TagList max in the service model
# TagKey's \s admits tabs and line breaks; evalpipe.suite allows only the space.
_TAG_KEY_BREAKS = re.compile(r"[\t\n\r\f\v]")


def check_pipeline(pipeline: object, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    """Yield the problems of the ``pipeline`` block (any value)."""
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
        elif key == "notification":
            yield from _notification(value, path, file)
        elif key == "regression":
            yield from _regression(value, path, facts, file)
        else:
            yield _unknown(file, path, key, PIPELINE_KEYS)


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
        elif key == "default":
            yield from _limits(value, child, file)
        elif key == "metrics":
            yield from _metric_limits(value, child, facts, file)
        else:
            yield _unknown(file, child, key, REGRESSION_KEYS)


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


def _child(path: str, key: object) -> str:
    return key_path(path, key) if isinstance(key, str) else f"{path}[{show(key)}]"


def _unknown(file: str, path: str, key: object, allowed: tuple[str, ...]) -> Problem:
    return _error(file, path, f"unknown key {show(key)}; allowed: {', '.join(allowed)}")


def _error(file: str, path: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message, field=path)
