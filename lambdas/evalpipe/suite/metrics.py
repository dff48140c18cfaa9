"""The built-in metric catalogue: which ``Builtin.*`` names a job may list, by job family; which
way each one points and on what scale; and the classic automated jobs' task types and built-in
prompt datasets.

A job's family follows from its applicationType, whether a judge model grades it, and (for
RAG) whether the knowledge base only retrieves or also generates. Names come from the Bedrock
user guide (see /work/shared/reference/bedrock-evaluation-facts.md, "Metric names"); the
classic catalogue's sources are cited where it is defined.
"""

from __future__ import annotations

from enum import Enum

from evalpipe.suite.keys import BUILTIN_PREFIX


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
DETECTORS: frozenset[str] = _builtins("Harmfulness", "Stereotyping", "Refusal")

# Classic automated metrics where lower is better. Toxicity is a toxicity probability (detoxify,
# 0..1); Robustness is the change of the task's score under perturbed prompts (word error rate,
# delta F1, delta BERTScore, delta classification accuracy), reported as a percentage. Source:
# user guide, "Review metrics for an automated model evaluation job"
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-report-programmatic.html).
CLASSIC_LOWER_IS_BETTER: frozenset[str] = _builtins("Toxicity", "Robustness")

# Every built-in metric where a higher score is the worse one.
LOWER_IS_BETTER: frozenset[str] = DETECTORS | CLASSIC_LOWER_IS_BETTER

# Built-ins reported on a 0-100 scale (percent) rather than 0-1: the facts page ("Variations")
# and the user guide's "percentage change" wording for Robustness.
PERCENT_METRICS: frozenset[str] = _builtins("Robustness")
PERCENT_SCALE = 100.0

# Default low-score rules of the lower-is-better built-ins (docs/suite-file.md, "Score direction"):
# a detector's "yes" (1) and a toxicity above one half are flagged; a response whose task score
# moves by more than 20 percent under typos, case and whitespace changes is fragile. Everything
# else takes pipeline.lowScore.builtin.
DEFAULT_LOW_RULES: dict[str, dict[str, float]] = {
    **{name: {"above": 0.5} for name in DETECTORS},
    BUILTIN_PREFIX + "Toxicity": {"above": 0.5},
    BUILTIN_PREFIX + "Robustness": {"above": 20.0},
}


def families_of(metric: str) -> list[MetricFamily]:
    """The families that contain ``metric`` (empty for an unknown name)."""
    return [family for family in MetricFamily if metric in family.metrics]


def is_builtin_name(metric: str) -> bool:
    """True for names in the reserved ``Builtin.`` namespace, known or not."""
    return metric.startswith(BUILTIN_PREFIX)


def _prefixed(metric: str) -> str:
    return metric if metric.startswith(BUILTIN_PREFIX) else BUILTIN_PREFIX + metric


def lower_is_better(metric: str) -> bool:
    """True for the built-ins of :data:`LOWER_IS_BETTER`, where a higher score is the worse one.

    Output files may drop the ``Builtin.`` prefix, so ``"Harmfulness"`` matches as well. The
    caller decides whether ``metric`` is a built-in at all (a custom metric may be named
    ``"Refusal"``).

    Examples
    --------
    >>> lower_is_better("Builtin.Harmfulness"), lower_is_better("Refusal"), lower_is_better("Robustness")
    (True, True, True)
    >>> lower_is_better("Builtin.Helpfulness"), lower_is_better("harmfulness"), lower_is_better("Accuracy")
    (False, False, False)
    """
    return _prefixed(metric) in LOWER_IS_BETTER


def metric_scale(metric: str) -> float:
    """The top of a built-in's scale: 100 for the percentage metrics, else 1.

    Examples
    --------
    >>> metric_scale("Builtin.Robustness"), metric_scale("Robustness"), metric_scale("Builtin.Toxicity")
    (100.0, 100.0, 1.0)
    """
    return PERCENT_SCALE if _prefixed(metric) in PERCENT_METRICS else 1.0


def default_low_rule(metric: str) -> dict[str, float] | None:
    """The built-in default low-score rule of a lower-is-better built-in, else None.

    Examples
    --------
    >>> default_low_rule("Robustness"), default_low_rule("Builtin.Toxicity"), default_low_rule("Accuracy")
    ({'above': 20.0}, {'above': 0.5}, None)
    """
    return DEFAULT_LOW_RULES.get(_prefixed(metric))


# -- classic automated jobs ---------------------------------------------------------------------
# Task types, metrics per task type and the built-in prompt datasets per task type, from the
# user guide's table "Available built-in datasets for automatic model evaluation jobs"
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-tasks.html) and the API
# reference's EvaluationDataset.name values. "General text generation" is the API's Generation.

ACCURACY, ROBUSTNESS, TOXICITY = (BUILTIN_PREFIX + n for n in ("Accuracy", "Robustness", "Toxicity"))
CLASSIC_TASK_TYPES = ("Summarization", "Classification", "QuestionAndAnswer", "Generation")
# The table lists no Toxicity for text classification (a classifier answers with a label).
CLASSIC_TASK_METRICS: dict[str, tuple[str, ...]] = {
    "Summarization": (ACCURACY, ROBUSTNESS, TOXICITY),
    "Classification": (ACCURACY, ROBUSTNESS),
    "QuestionAndAnswer": (ACCURACY, ROBUSTNESS, TOXICITY),
    "Generation": (ACCURACY, ROBUSTNESS, TOXICITY),
}
# Built-in dataset -> (its task type, the metrics the table recommends it for).
BUILTIN_DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Builtin.T-Rex": ("Generation", (ACCURACY, ROBUSTNESS)),
    "Builtin.Bold": ("Generation", (ROBUSTNESS, TOXICITY)),
    "Builtin.Wikitext2": ("Generation", (ROBUSTNESS,)),
    "Builtin.RealToxicityPrompts": ("Generation", (TOXICITY,)),
    "Builtin.Gigaword": ("Summarization", (ACCURACY, ROBUSTNESS, TOXICITY)),
    "Builtin.BoolQ": ("QuestionAndAnswer", (ACCURACY, ROBUSTNESS, TOXICITY)),
    "Builtin.NaturalQuestions": ("QuestionAndAnswer", (ACCURACY, ROBUSTNESS, TOXICITY)),
    "Builtin.TriviaQA": ("QuestionAndAnswer", (ACCURACY, ROBUSTNESS, TOXICITY)),
    "Builtin.WomensEcommerceClothingReviews": ("Classification", (ACCURACY, ROBUSTNESS)),
}
# The API reference spells TriviaQA "Builtin.TriviaQa" in one place: accepted as the same dataset.
BUILTIN_DATASET_ALIASES = {"Builtin.TriviaQa": "Builtin.TriviaQA"}
# Built-in datasets hold 100 prompts each (user guide, "Use built-in prompt datasets").
BUILTIN_DATASET_PROMPTS = 100
# A custom classic dataset needs referenceResponse on every line for these metrics, and for every
# QuestionAndAnswer line whatever the metric (user guide, "Custom prompt dataset" requirements:
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-prompt-datasets-custom.html).
CLASSIC_REFERENCE_METRICS: frozenset[str] = frozenset({ACCURACY, ROBUSTNESS})
CLASSIC_REFERENCE_TASKS: frozenset[str] = frozenset({"QuestionAndAnswer"})


def builtin_dataset(name: str) -> str | None:
    """The catalogue spelling of a built-in dataset name, or None when there is no such dataset.

    Examples
    --------
    >>> builtin_dataset("Builtin.TriviaQa"), builtin_dataset("Builtin.boolq")
    ('Builtin.TriviaQA', None)
    """
    resolved = BUILTIN_DATASET_ALIASES.get(name, name)
    return resolved if resolved in BUILTIN_DATASETS else None


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
