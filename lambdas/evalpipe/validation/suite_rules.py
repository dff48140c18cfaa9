"""Rules for a suite file: the request members against the service model, then what the
service model cannot say (the traps of the facts page) and the pipeline block.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from evalpipe.run.triggers import SUITE_NAME_PATTERN
from evalpipe.suite.datasets import custom_entries, is_builtin_dataset
from evalpipe.suite.facts import (
    AUTOMATED,
    HUMAN,
    MODEL_EVALUATION,
    RAG_EVALUATION,
    JobKind,
    SuiteFacts,
    dig,
)
from evalpipe.suite.metrics import (
    BUILTIN_PREFIX,
    JUDGE_BUILTINS,
    TEMPLATE_VARIABLES_KNOWN,
    TEMPLATE_VARIABLES_REQUIRED,
    MetricFamily,
    families_of,
    is_builtin_name,
)
from evalpipe.validation.classic_rules import check_classic
from evalpipe.validation.deployment import NO_LIMITS, DeploymentLimits
from evalpipe.validation.knowledge_base_rules import check_knowledge_bases
from evalpipe.validation.pipeline_rules import check_pipeline
from evalpipe.validation.problems import Problem, Severity, json_type, key_path, path_of, show
from evalpipe.validation.service_model import ShapeWalker, WalkPolicy, request_member, request_required, shape
from evalpipe.validation.strict_json import LONE_SURROGATE, lone_surrogate_path, parse_strict

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# Top-level suite keys that are CreateEvaluationJob request members, passed through unchanged.
REQUEST_MEMBERS = ("applicationType", "evaluationConfig", "inferenceConfig")
TOP_LEVEL_KEYS = ("$schema", *REQUEST_MEMBERS, "pipeline")
# Request members that depend on the dropped object or the deployment: never in a suite.
SET_BY_PIPELINE = ("jobName", "clientRequestToken", "roleArn", "outputDataConfig", "customerEncryptionKeyId")
MOVED_TO_PIPELINE = {"jobDescription": "pipeline.description", "jobTags": "pipeline.jobTags"}

JUDGE_TASK_TYPE = "General"
MAX_RATING_WORDS = 5


def _dataset_location_ignored(dataset: dict) -> str | None:
    """The warning for a ``dataset.datasetLocation``: only the custom entry's location is replaced.

    A ``Builtin.*`` entry is sent as the suite gives it, location included, so "ignored" would be
    untrue there; :mod:`evalpipe.validation.classic_rules` makes every such entry an error instead
    (its location, an unknown name, or a built-in dataset outside a classic suite).
    """
    if is_builtin_dataset(dataset.get("name")):
        return None
    return (
        "is ignored: the pipeline sends the location of the dropped dataset object. Remove it from the suite."
    )


# What the suite file may do that the request may not (docs/suite-file.md).
SUITE_POLICY = WalkPolicy(
    # Trap 1: the enum does not list "General", which judge jobs need; _task_types owns taskType.
    skip_enum=frozenset({"EvaluationTaskType"}),
    # The pipeline writes the dataset object (evalpipe.suite.job_request): the name defaults to the
    # dropped file's name, the location is always the dropped file.
    optional_members={
        "EvaluationDatasetMetricConfig": frozenset({"dataset"}),
        "EvaluationDataset": frozenset({"name"}),
    },
    ignored_members={"EvaluationDataset": {"datasetLocation": _dataset_location_ignored}},
    # Trap 3: the practitioner's guide writes the custom metric key as metricName.
    aliases={"CustomMetricDefinition": {"metricName": "name"}},
)

TEMPLATE_VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")


def check_suite(
    suite: object,
    file: str,
    *,
    suite_name: str | None = None,
    limits: DeploymentLimits = NO_LIMITS,
) -> Iterator[Problem]:
    """Yield every problem of a raw parsed suite (see :func:`evalpipe.validation.validate_suite`)."""
    if suite_name is not None and not SUITE_NAME_PATTERN.fullmatch(suite_name):
        yield _error(file, "", f"suite name {show(suite_name)} must match {SUITE_NAME_PATTERN.pattern}")
    if not isinstance(suite, dict):
        yield _error(file, "", f"a suite must be a JSON object, not {json_type(suite)}")
        return
    surrogate = lone_surrogate_path(suite)
    if surrogate is not None:  # a parsed file was caught by parse_suite; this is a given object
        yield _error(file, surrogate, LONE_SURROGATE)
    facts = SuiteFacts.from_suite(suite)
    yield from _top_level(suite, file)
    yield from _one_custom_dataset(suite, file)
    yield from _task_types(suite, facts, file)
    yield from _inference_matches(suite, facts, file)
    yield from _live_models(suite, file, limits.allowed_inference_models)
    yield from check_knowledge_bases(suite, file, limits)
    yield from _metric_names(facts, file)
    yield from _custom_metric_names(facts, file)
    yield from _evaluators(facts, file, limits.allowed_evaluator_models)
    yield from _instructions(facts, file)
    yield from _rating_definitions(facts, file)
    yield from _human(suite, facts, file)
    yield from check_classic(suite, facts, file)
    if "pipeline" in suite:
        yield from check_pipeline(suite["pipeline"], facts, file, suite=suite, limits=limits)


def _top_level(suite: dict, file: str) -> Iterator[Problem]:
    walker = ShapeWalker(file, SUITE_POLICY)
    for key, value in suite.items():
        yield from _top_level_key(key, value, walker, file)
    for required in request_required():
        if required in REQUEST_MEMBERS and required not in suite:
            yield _error(file, required, "is required (the CreateEvaluationJob request member)")


def _top_level_key(key: object, value: object, walker: ShapeWalker, file: str) -> Iterator[Problem]:
    """One top-level key: a request member walked along its shape, our own keys, or a mistake."""
    if not isinstance(key, str):
        yield _error(file, "", f"has a non-string key {show(key)}")
    elif key in REQUEST_MEMBERS:
        yield from walker.walk(value, request_member(key), key)
    elif key == "$schema":
        if not isinstance(value, str):
            yield _error(file, key, f"must be a string (the schema's location), not {json_type(value)}")
    elif key == "pipeline":
        return  # check_pipeline
    elif key in SET_BY_PIPELINE:
        yield _error(file, key, "is set by the pipeline for every run; remove it from the suite")
    elif key in MOVED_TO_PIPELINE:
        yield _error(file, key, f"is not a suite key; set it as {MOVED_TO_PIPELINE[key]}")
    else:
        yield _error(file, key_path("", key), _unknown(key, TOP_LEVEL_KEYS))


def _one_custom_dataset(suite: dict, file: str) -> Iterator[Problem]:
    """At most one ``datasetMetricConfigs`` entry names a custom dataset (docs/suite-file.md).

    The dropped object fills the custom entry; ``Builtin.*`` entries are sent as the suite gives
    them, so a suite may list several built-in datasets beside its one custom entry.
    """
    custom = custom_entries(suite)
    if len(custom) > 1:
        listed = ", ".join(
            f"[{entry.index}]" + (f" ({entry.name!r})" if entry.name else "") for entry in custom
        )
        yield _error(
            file,
            path_of("evaluationConfig", custom[1].root, "datasetMetricConfigs"),
            f"has {len(custom)} entries with a custom dataset ({listed}); the dropped file fills the one "
            "custom entry of a run, so keep one and give other datasets their own suite (entries whose "
            "dataset.name is a built-in dataset such as 'Builtin.BoolQ' may be added freely)",
        )


def _task_types(suite: dict, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    root = AUTOMATED if facts.has_automated else HUMAN
    configs = dig(suite, *root, "datasetMetricConfigs")
    enum = [*shape("EvaluationTaskType").enum, JUDGE_TASK_TYPE]
    for i, config in enumerate(configs if isinstance(configs, list) else []):
        task_type = dig(config, "taskType")
        if not isinstance(task_type, str):
            continue  # the shape walk reports it
        path = path_of(*root, "datasetMetricConfigs", i, "taskType")
        if facts.job_kind is JobKind.JUDGE and task_type != JUDGE_TASK_TYPE:
            yield _error(
                file,
                path,
                f'{show(task_type)} must be "General" in a job graded by a judge model. The service '
                "model lists Summarization, Classification, QuestionAndAnswer, Generation and Custom, "
                'but judge jobs with those values fail; "General" is the value that works.',
            )
        elif facts.job_kind is JobKind.HUMAN and task_type not in enum:
            # Classic jobs: evalpipe.validation.classic_rules names the four task types they take.
            yield _error(file, path, f"{show(task_type)} is not a task type; use one of: {', '.join(enum)}")


def _inference_matches(suite: dict, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    inference = suite.get("inferenceConfig")
    if not isinstance(inference, dict):
        return
    if "ragConfigs" in inference and facts.application_type == MODEL_EVALUATION:
        given = "is ModelEvaluation" if facts.application_type_given else "is missing"
        yield _error(
            file,
            "applicationType",
            f'{given}, but inferenceConfig.ragConfigs evaluate a knowledge base: set it to "RagEvaluation"',
        )
    models = inference.get("models")
    if "models" in inference and facts.application_type == RAG_EVALUATION:
        yield _error(
            file,
            "applicationType",
            'is RagEvaluation, but inferenceConfig.models evaluate a model: set it to "ModelEvaluation" '
            "or configure inferenceConfig.ragConfigs",
        )
    if facts.has_automated and isinstance(models, list) and len(models) > 1:
        yield _error(
            file,
            "inferenceConfig.models",
            f"has {len(models)} entries; an automated job evaluates exactly one model or precomputed "
            "source (two are only for human comparison jobs): keep one",
        )


def _live_models(suite: dict, file: str, allowed_models: Sequence[str] | None) -> Iterator[Problem]:
    """``inferenceConfig.models[*].bedrockModel``: a model Bedrock runs live during the job.

    ``allowed_models`` None skips the model check; an empty sequence means the deployment's
    Bedrock role may invoke no model for live inference (the ``inferenceModels`` default).
    """
    for i, entry in enumerate(_list(dig(suite, "inferenceConfig", "models"))):
        model = dig(entry, "bedrockModel")
        if not isinstance(model, dict):
            continue  # the shape walk reports a wrong type
        params = model.get("inferenceParams")
        if isinstance(params, str):
            yield from _inference_params(
                params, path_of("inferenceConfig", "models", i, "bedrockModel", "inferenceParams"), file
            )
        identifier = model.get("modelIdentifier")
        if allowed_models is None or not isinstance(identifier, str) or identifier in allowed_models:
            continue
        path = path_of("inferenceConfig", "models", i, "bedrockModel", "modelIdentifier")
        granted = (
            f"may invoke only these models for live inference: {', '.join(allowed_models)}. Use one of "
            "them, or"
            if allowed_models
            else "may invoke no model for live inference:"
        )
        yield _error(
            file,
            path,
            f"{identifier!r} would be denied: the pipeline's Bedrock role {granted} have the deployment "
            "add it to its inferenceModels context (ALLOWED_INFERENCE_MODELS)",
        )


def _inference_params(params: str, path: str, file: str) -> Iterator[Problem]:
    """``inferenceParams`` must be a string holding a JSON object (the model's parameters)."""
    example = '\'{"inferenceConfig": {"maxTokens": 512}}\''
    how = f"give the parameters as a JSON object in a string, e.g. {example}"
    parsed = parse_strict(params)
    if parsed.error is not None:
        yield _error(
            file,
            path,
            f"is not valid JSON ({parsed.error}); {how}",
        )
    elif not isinstance(parsed.value, dict):
        yield _error(
            file,
            path,
            f"holds a JSON {json_type(parsed.value)}, not an object; {how}",
        )
    elif parsed.duplicate_keys:
        keys = ", ".join(map(repr, parsed.duplicate_keys))
        yield _error(
            file,
            path,
            f"key(s) {keys} appear twice in one object; JSON readers keep only the last: remove one",
        )


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _metric_names(facts: SuiteFacts, file: str) -> Iterator[Problem]:
    allowed = frozenset().union(*(family.metrics for family in facts.allowed_families))
    custom = facts.custom_names
    first_seen: dict[tuple[str, str], str] = {}  # (config path, name) -> path of first listing
    for named in facts.metric_names:
        name, path = named.value, named.path
        config_path = path.rsplit(".metricNames", 1)[0]
        if (config_path, name) in first_seen:
            first = first_seen[config_path, name]
            yield _error(file, path, f"{name!r} is listed twice (also at {first}); remove one")
            continue
        first_seen[config_path, name] = path
        if is_builtin_name(name):
            if name not in allowed:
                yield _error(file, path, _builtin_misfit(name, facts, allowed))
        elif name not in custom:
            hint = _did_you_mean(name, allowed | custom)
            yield _error(
                file,
                path,
                f"{name!r} is neither a built-in metric of this job nor a custom metric defined in "
                f"{_custom_list_path(facts)}; define it there or fix the name{hint}",
            )


def _builtin_misfit(name: str, facts: SuiteFacts, allowed: frozenset[str]) -> str:
    if facts.job_kind is JobKind.HUMAN:
        return (
            f"{name} is a built-in of automated jobs; a human job rates only the metrics defined in "
            "evaluationConfig.human.customMetrics"
        )
    families = families_of(name)
    offered = ", ".join(sorted(allowed))
    if not families:
        return f"{name} is not a built-in metric{_did_you_mean(name, allowed)}; this job offers: {offered}"
    if MetricFamily.MODEL_CLASSIC in families and facts.job_kind is JobKind.JUDGE:
        return (
            f"{name} is a classic automated metric, computed without a judge model; this job is graded "
            "by a judge model (it has an evaluator model, custom metrics or judge built-ins) and cannot "
            "mix the two. Remove it, or evaluate it in a separate suite without a judge"
        )
    belongs = " and ".join(family.label for family in families)
    this_job = " / ".join(family.label for family in facts.allowed_families)
    return (
        f"{name} belongs to {belongs}; this job is {this_job} "
        f"(applicationType {facts.application_type}), which offers: {offered}"
    )


def _custom_metric_names(facts: SuiteFacts, file: str) -> Iterator[Problem]:
    listed = {named.value for named in facts.metric_names}
    seen: set[str] = set()
    for metric in facts.custom_metrics:
        if metric.name is None:
            continue  # the shape walk reports a missing or non-string name
        path = metric.name_path
        if metric.name in seen:
            yield _error(file, path, f"custom metric {metric.name!r} is defined twice; names must be unique")
            continue
        seen.add(metric.name)
        if metric.name.startswith(BUILTIN_PREFIX):
            yield _error(
                file, path, f"{metric.name!r}: the {BUILTIN_PREFIX} prefix is reserved for built-in metrics"
            )
        elif metric.name not in listed:
            yield _error(
                file,
                path,
                f"custom metric {metric.name!r} is not in metricNames, so the service would silently skip "
                "it: add it to datasetMetricConfigs[0].metricNames",
            )


def _evaluators(facts: SuiteFacts, file: str, allowed_models: Sequence[str]) -> Iterator[Problem]:
    judged_builtins = sorted({n.value for n in facts.metric_names} & JUDGE_BUILTINS)
    if facts.job_kind is JobKind.JUDGE and judged_builtins and not facts.has_top_evaluator:
        yield _error(
            file,
            path_of(*AUTOMATED, "evaluatorModelConfig"),
            f"is required: the judge model named there grades {', '.join(judged_builtins)} "
            "(customMetricConfig.evaluatorModelConfig serves custom metrics only). Add "
            '{"bedrockEvaluatorModels": [{"modelIdentifier": "<judge model id>"}]}',
        )
    top = {named.value for named in facts.builtin_evaluators}
    for named in facts.custom_evaluators:
        if top and named.value not in top:
            yield _error(
                file,
                named.path,
                f"{named.value!r} differs from the top-level evaluatorModelConfig's "
                f"{', '.join(map(repr, sorted(top)))}; use the same judge model in both places",
            )
    if allowed_models:
        for named in (*facts.builtin_evaluators, *facts.custom_evaluators):
            if named.value not in allowed_models:
                yield _error(
                    file,
                    named.path,
                    f"the pipeline's Bedrock role may invoke only these evaluator models: "
                    f"{', '.join(allowed_models)}; {named.value!r} would be denied. Use one of them, or "
                    "have the deployment add it to ALLOWED_EVALUATOR_MODELS",
                )


def _instructions(facts: SuiteFacts, file: str) -> Iterator[Problem]:
    required = TEMPLATE_VARIABLES_REQUIRED.get(facts.application_type, frozenset())
    known = TEMPLATE_VARIABLES_KNOWN.get(facts.application_type)
    for metric in facts.custom_metrics:
        if metric.instructions is None:
            continue
        path = key_path(metric.path, "instructions")
        used = [m.group(1) for m in TEMPLATE_VARIABLE.finditer(metric.instructions)]
        missing = sorted(required - set(used))
        if missing:
            yield _error(
                file,
                path,
                f"must contain {_variables(sorted(required))}: the judge sees the record only through "
                f"them (missing: {_variables(missing)})",
            )
        for name in dict.fromkeys(used):  # each unknown name once, in order
            if known is not None and name not in known:
                fix = (
                    f"write {_variables([name.strip()])}"
                    if name.strip() in known
                    else f"use {_variables(sorted(known))}"
                )
                yield _error(
                    file,
                    path,
                    f"{{{{{name}}}}} is not a variable Bedrock fills in, so the judge would read it "
                    f"literally: {fix}",
                )
        placement = variables_not_last(metric.instructions)
        if placement:
            yield _error(file, path, placement)


def variables_not_last(text: str) -> str | None:
    """Why the input variables of ``text`` do not come last, or None when they do.

    "Input variables must come last" (the guide, trap 7) made precise: lines are split at
    ``\\n`` and a line is blank when it holds only whitespace. Then

    1. no non-blank line may follow the line holding the last variable, and
    2. every variable lies in the *final block*: the run of consecutive non-blank lines that
       ends at that line.

    Text on a variable's own line (``Response: {{prediction}}``) is allowed.
    """
    lines = text.split("\n")
    holding = [i for i, line in enumerate(lines) if TEMPLATE_VARIABLE.search(line)]
    if not holding:
        return None
    last = holding[-1]
    after = next((line for line in lines[last + 1 :] if line.strip()), None)
    if after is not None:
        return (
            f"text follows the last input variable (line {last + 1}): {show(after.strip(), 40)}. "
            "Input variables must come last: move that text above the variables"
        )
    start = last
    while start > 0 and lines[start - 1].strip():
        start -= 1
    if holding[0] < start:
        return (
            f"line {holding[0] + 1} uses an input variable in the body of the instructions. Input "
            "variables must come last, together in the final block: refer to them in words there "
            '("the response") and list each variable only in the final block'
        )
    return None


def _rating_definitions(facts: SuiteFacts, file: str) -> Iterator[Problem]:
    for metric in facts.custom_metrics:
        for definition in metric.rating_definitions:
            words = len(definition.value.split())
            if words > MAX_RATING_WORDS:
                yield _error(
                    file,
                    definition.path,
                    f"has {words} words; a rating definition is a label of at most {MAX_RATING_WORDS} "
                    "words (100 characters): explain the levels in the instructions",
                )


# Rating methods of human custom metrics (the service model types ratingMethod as a plain string).
HUMAN_RATING_METHODS = (
    "ThumbsUpDown",
    "IndividualLikertScale",
    "ComparisonLikertScale",
    "ComparisonChoice",
    "ComparisonRank",
)
COMPARISON_PREFIX = "Comparison"


def _human(suite: dict, facts: SuiteFacts, file: str) -> Iterator[Problem]:
    """Human jobs: rating methods, the model count they imply, and no judge model.

    The rule chosen for the model count: a ``Comparison*`` rating method compares two responses
    per prompt, so it needs exactly two models; the individual methods (ThumbsUpDown,
    IndividualLikertScale) work with one or two models (two = each response rated on its own).
    """
    if not facts.has_human:
        return
    human = dig(suite, *HUMAN)
    assert isinstance(human, dict)
    comparison: list[str] = []
    for i, metric in enumerate(_list(human.get("customMetrics"))):
        method = dig(metric, "ratingMethod")
        if not isinstance(method, str):
            continue  # the shape walk reports a missing or non-string method
        path = path_of(*HUMAN, "customMetrics", i, "ratingMethod")
        if method not in HUMAN_RATING_METHODS:
            yield _error(
                file,
                path,
                f"{show(method)} is not a rating method; use one of: {', '.join(HUMAN_RATING_METHODS)}"
                + _did_you_mean(method, frozenset(HUMAN_RATING_METHODS)),
            )
        elif method.startswith(COMPARISON_PREFIX):
            comparison.append(str(dig(metric, "name")))
    if "evaluatorModelConfig" in human:
        yield _error(
            file,
            path_of(*HUMAN, "evaluatorModelConfig"),
            "a human job is rated by your work team, not by a judge model: remove evaluatorModelConfig",
        )
    models = dig(suite, "inferenceConfig", "models")
    if not isinstance(models, list) or not models:
        return
    if len(models) > 2:
        yield _error(
            file,
            "inferenceConfig.models",
            f"has {len(models)} entries; a human job evaluates one model or compares two",
        )
    elif comparison and len(models) != 2:
        yield _error(
            file,
            "inferenceConfig.models",
            f"has 1 entry, but {', '.join(repr(n) for n in comparison)} "
            f"{'uses' if len(comparison) == 1 else 'use'} a Comparison rating method, which compares "
            "the responses of two models: add the second model, or use ThumbsUpDown / "
            "IndividualLikertScale",
        )


def _custom_list_path(facts: SuiteFacts) -> str:
    if facts.job_kind is JobKind.HUMAN:
        return "evaluationConfig.human.customMetrics"
    return "evaluationConfig.automated.customMetricConfig.customMetrics"


def _variables(names: list[str]) -> str:
    return ", ".join("{{" + name + "}}" for name in names)


def _did_you_mean(name: str, candidates: frozenset[str]) -> str:
    by_fold = {candidate.casefold(): candidate for candidate in candidates}
    if name.casefold() in by_fold:
        return f" (did you mean {by_fold[name.casefold()]!r}?)"
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(key: str, allowed: Sequence[str]) -> str:
    return f"unknown key {key!r}; allowed: {', '.join(allowed)}{_did_you_mean(key, frozenset(allowed))}"


def _error(file: str, path: str, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message, field=path or None)
