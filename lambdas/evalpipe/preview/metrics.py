"""What a preview judges: the suite's custom metrics (instructions and rating scale), the metrics it
cannot preview (Bedrock's built-ins), and the evaluator model the job would use.

Read defensively from the raw parsed suite (any value), through
:class:`~evalpipe.suite.facts.SuiteFacts`, which owns reading the suite's metric definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalpipe.suite.facts import DatasetKind, SuiteFacts, SuiteKind
from evalpipe.suite.metrics import is_builtin_name

NOT_APPLICABLE_VALUE = -1.0  # a floatValue of -1 means N/A: Bedrock writes the result as null (trap 6)
# Definitions that name the N/A rating whatever its value (read as the emulator's offline judge reads
# them, so a preview against the emulator agrees with its evaluation jobs).
_NOT_APPLICABLE_LABELS = frozenset({"n/a", "na", "none"})
_NOT_APPLICABLE_STARTS = ("n/a", "not applicable")


@dataclass(frozen=True)
class Rating:
    """One rating of a custom metric's ``ratingScale``.

    Attributes
    ----------
    definition : str
        The label the judge answers with (at most five words, 100 characters).
    value : float or str
        ``floatValue`` or ``stringValue``.

    Examples
    --------
    >>> Rating("N/A", -1.0).not_applicable, Rating("Poor", 0.0).not_applicable
    (True, False)
    >>> Rating("Good", 1.0).shown_value, Rating("Somewhat", 0.5).shown_value, Rating("Ok", "ok").shown_value
    ('1', '0.5', 'ok')
    """

    definition: str
    value: float | str

    @property
    def not_applicable(self) -> bool:
        """The N/A rating: ``floatValue`` -1, or a definition "N/A" / "Not applicable"."""
        if isinstance(self.value, float) and self.value == NOT_APPLICABLE_VALUE:
            return True
        label = self.definition.strip().casefold()
        return label in _NOT_APPLICABLE_LABELS or label.startswith(_NOT_APPLICABLE_STARTS)

    @property
    def shown_value(self) -> str:
        """The value as the judge prompt shows it (``1`` rather than ``1.0``)."""
        return f"{self.value:g}" if isinstance(self.value, float) else self.value


@dataclass(frozen=True)
class CustomMetric:
    """One custom metric definition: ``name``, ``instructions`` and its ``ratingScale`` (may be empty)."""

    name: str
    instructions: str
    rating_scale: tuple[Rating, ...] = ()


@dataclass(frozen=True)
class PreviewPlan:
    """What the suite asks a judge to do, as far as a preview is concerned.

    Attributes
    ----------
    kind : SuiteKind
        The suite's job kind (RAG suites render ``{{context}}`` and ``{{chat_history}}`` too).
    custom_metrics : tuple of CustomMetric
        The custom metrics the job scores: defined and listed in ``metricNames``, in listed order.
    builtin_metrics : tuple of str
        The listed ``Builtin.*`` metrics: their prompts are Bedrock's own and are not previewed.
    evaluator_model : str or None
        The custom metrics' evaluator (``customMetricConfig.evaluatorModelConfig``), else the
        top-level evaluator.
    not_listed : tuple of str
        Custom metrics defined but not in ``metricNames``: Bedrock skips them silently (trap 2).
    not_defined : tuple of str
        Listed names that are neither built in nor defined: the job would fail on them.
    live : bool
        The job generates the responses itself (a ``bedrockModel`` or a knowledge base queried
        live): the dataset holds none, so ``{{prediction}}`` renders empty.
    """

    kind: SuiteKind
    custom_metrics: tuple[CustomMetric, ...]
    builtin_metrics: tuple[str, ...]
    evaluator_model: str | None
    not_listed: tuple[str, ...] = ()
    not_defined: tuple[str, ...] = ()
    live: bool = False

    @property
    def is_rag(self) -> bool:
        return self.kind.is_rag

    def metric(self, name: str) -> CustomMetric | None:
        return next((metric for metric in self.custom_metrics if metric.name == name), None)


def plan_of(suite: object) -> PreviewPlan:
    """Read a parsed suite file (any value; never raises).

    Examples
    --------
    >>> judge = {"bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]}
    >>> brevity = {"name": "brevity", "instructions": "Is it short? {{prediction}}",
    ...            "ratingScale": [{"definition": "No", "value": {"floatValue": 0}},
    ...                            {"definition": "Yes", "value": {"floatValue": 1}}]}
    >>> plan = plan_of({"evaluationConfig": {"automated": {
    ...     "datasetMetricConfigs": [{"metricNames": ["Builtin.Helpfulness", "brevity"]}],
    ...     "customMetricConfig": {"customMetrics": [{"customMetricDefinition": brevity}],
    ...                            "evaluatorModelConfig": judge}}}})
    >>> [m.name for m in plan.custom_metrics], plan.builtin_metrics, plan.evaluator_model
    (['brevity'], ('Builtin.Helpfulness',), 'amazon.nova-pro-v1:0')
    >>> plan.custom_metrics[0].rating_scale
    (Rating(definition='No', value=0.0), Rating(definition='Yes', value=1.0))
    """
    facts = SuiteFacts.from_suite(suite)
    listed = list(dict.fromkeys(named.value for named in facts.metric_names))
    defined = _definitions(facts)
    evaluators = facts.custom_evaluators or facts.builtin_evaluators
    return PreviewPlan(
        kind=facts.kind,
        custom_metrics=tuple(defined[name] for name in listed if name in defined),
        builtin_metrics=tuple(name for name in listed if is_builtin_name(name)),
        evaluator_model=evaluators[0].value if evaluators else None,
        not_listed=tuple(name for name in defined if name not in listed),
        not_defined=tuple(name for name in listed if not is_builtin_name(name) and name not in defined),
        live=facts.dataset_kind is DatasetKind.LIVE_MODEL or facts.kind is SuiteKind.RAG_LIVE,
    )


def _definitions(facts: SuiteFacts) -> dict[str, CustomMetric]:
    """Every automated custom metric with a name and instructions, by name (the first of a name)."""
    found: dict[str, CustomMetric] = {}
    for metric in facts.custom_metrics:
        if metric.name is not None and metric.instructions is not None and metric.name not in found:
            scale = tuple(Rating(definition, value) for definition, value in metric.rating_scale)
            found[metric.name] = CustomMetric(metric.name, metric.instructions, scale)
    return found
