"""The built-in metric catalogue: which ``Builtin.*`` names a job may list, by job family.

A job's family follows from its applicationType, whether a judge model grades it, and (for
RAG) whether the knowledge base only retrieves or also generates. Names come from the Bedrock
user guide (see /work/shared/reference/bedrock-evaluation-facts.md, "Metric names").
"""

from __future__ import annotations

from enum import Enum

BUILTIN_PREFIX = "Builtin."


def _builtins(*names: str) -> frozenset[str]:
    return frozenset(BUILTIN_PREFIX + name for name in names)


class MetricFamily(Enum):
    """A set of built-in metrics that can be listed together in one job.

    Attributes
    ----------
    label : str
        How messages name the family.
    metrics : frozenset[str]
        The family's metric names, ``Builtin.`` prefix included.
    """

    MODEL_JUDGE = (
        "model evaluation with a judge model",
        _builtins(
            "Correctness",
            "Completeness",
            "Faithfulness",
            "Helpfulness",
            "Coherence",
            "Relevance",
            "FollowingInstructions",
            "ProfessionalStyleAndTone",
            "Harmfulness",
            "Stereotyping",
            "Refusal",
        ),
    )
    MODEL_CLASSIC = (
        "classic automated model evaluation (no judge model)",
        _builtins("Accuracy", "Robustness", "Toxicity"),
    )
    RAG_RETRIEVE = (
        "RAG evaluation, retrieve only",
        _builtins("ContextRelevance", "ContextCoverage"),
    )
    RAG_RETRIEVE_AND_GENERATE = (
        "RAG evaluation, retrieve and generate",
        _builtins(
            "Correctness",
            "Completeness",
            "Helpfulness",
            "LogicalCoherence",
            "Faithfulness",
            "Harmfulness",
            "Stereotyping",
            "Refusal",
            "CitationPrecision",
            "CitationCoverage",
        ),
    )

    def __init__(self, label: str, metrics: frozenset[str]) -> None:
        self.label = label
        self.metrics = metrics

    @property
    def judged(self) -> bool:
        """True when a judge (evaluator) model computes the family's metrics."""
        return self is not MetricFamily.MODEL_CLASSIC


JUDGE_BUILTINS: frozenset[str] = frozenset().union(*(f.metrics for f in MetricFamily if f.judged))

# Built-ins that grade against referenceResponse: without one the judge falls back to its own
# knowledge and the score means little (trap 13).
REFERENCE_BUILTINS: frozenset[str] = _builtins("Correctness", "Completeness")

# Built-in judge metrics that are yes/no DETECTORS: 1 means the judge found the bad thing (the
# response is harmful / stereotypes a group / refuses), 0 means it did not, so lower is better.
# Sources: the metric descriptions pose them as detection questions ("Does the response contain
# harmful content?", "... stereotypes or bias?"), and the local emulator
# (local/bedrock_emulator/judges/base.py) scores "yes" as 1; the service publishes no score
# contract. DISAGREEMENT: the practitioner's guide (seed 004, "Score interpretation") says
# "1.0 = best, 0.0 = worst" for every metric; that is wrong for these three (its own questions
# above contradict it). Its Refusal wording ("appropriately refuse harmful requests?") is
# ambiguous; we read Refusal as "1 = the response refused", like the emulator.
# Low-score rules default to {"above": 0.5} for them (evalpipe.suite.LowScoreSettings).
LOWER_IS_BETTER: frozenset[str] = _builtins("Harmfulness", "Stereotyping", "Refusal")


def families_of(metric: str) -> list[MetricFamily]:
    """The families that contain ``metric`` (empty for an unknown name)."""
    return [family for family in MetricFamily if metric in family.metrics]


def is_builtin_name(metric: str) -> bool:
    """True for names in the reserved ``Builtin.`` namespace, known or not."""
    return metric.startswith(BUILTIN_PREFIX)


def lower_is_better(metric: str) -> bool:
    """True for the built-in detectors of :data:`LOWER_IS_BETTER`, where 1 is the bad outcome.

    Output files may drop the ``Builtin.`` prefix, so ``"Harmfulness"`` matches as well. The
    caller decides whether ``metric`` is a built-in at all (a custom metric may be named
    ``"Refusal"``).

    Examples
    --------
    >>> lower_is_better("Builtin.Harmfulness"), lower_is_better("Refusal")
    (True, True)
    >>> lower_is_better("Builtin.Helpfulness"), lower_is_better("harmfulness")
    (False, False)
    """
    return metric in LOWER_IS_BETTER or BUILTIN_PREFIX + metric in LOWER_IS_BETTER


# Custom-metric instruction templates ({{name}} is replaced per record).
TEMPLATE_VARIABLES_REQUIRED: dict[str, frozenset[str]] = {
    "ModelEvaluation": frozenset({"prompt", "prediction"}),
}
TEMPLATE_VARIABLES_KNOWN: dict[str, frozenset[str]] = {
    # {{ground_truth}} is the record's referenceResponse.
    "ModelEvaluation": frozenset({"prompt", "prediction", "ground_truth"}),
}
# The variable a custom metric uses to read the record's reference response.
REFERENCE_VARIABLE = "ground_truth"
