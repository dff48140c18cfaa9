"""The records parsing produces: `RecordResult`, one output line (for a RAG line scored per turn,
one conversation turn) with its prompt, response, reference, category, source dataset and the
fields nothing else models, and `MetricScore`, one metric's score of it. Every other module of the
package reads or builds these, so they stand alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricScore:
    """One metric's score of one record.

    Parameters
    ----------
    metric
        The metric name exactly as the output spells it (`Builtin.Helpfulness`, `Accuracy`, ...).
    score
        The score, or None when the judge answered N/A (`result: null`) or gave no number.
    explanation
        The judge's reasoning (`evaluatorDetails[0].explanation`), if any.
    evaluator
        The judge model (`evaluatorDetails[0].modelIdentifier`), if any.
    """

    metric: str
    score: float | None
    explanation: str | None
    evaluator: str | None


@dataclass(frozen=True)
class HumanRating:
    """One worker's rating of one metric, for one model (or, for ComparisonLikertScale, one pair).

    Parameters
    ----------
    metric
        The human metric's name.
    method
        Its rating method (``ThumbsUpDown``, ``IndividualLikertScale``, ``ComparisonChoice``,
        ``ComparisonRank``, ``ComparisonLikertScale``), None when the output does not say.
    model
        The model the rating is about (``modelResponseIdMap``), ``"<left> vs <right>"`` for a
        comparison Likert rating, None when the output names no model.
    value
        The rating as given: thumbs 1/0, a Likert value, a rank, 1/0 for chosen / not chosen.
    worker
        The worker's id, when given.
    """

    metric: str
    method: str | None
    model: str | None
    value: float
    worker: str | None = None


@dataclass
class RecordResult:
    """One parsed output line.

    Parameters
    ----------
    index
        Position of the record among all output lines of the job (0-based, blank lines skipped).
    prompt
        The prompt text ("" when the line carries none; RAG turns are joined by newlines).
    response
        The model's (or RAG application's) response, if present.
    reference
        The reference response, None when absent or empty.
    category
        The record's category, None until resolved (see `resolve_category`).
    scores
        The metric scores in output order.
    extra
        Everything the line carried that is not modelled above (unknown keys, the response's
        `modelIdentifier`, non-numeric `stringScores`, `unparsedScores` entries).
    conversation
        RAG only: the 1-based line number of the conversation this turn belongs to (None for a
        model-evaluation record, or a RAG line read as one record).
    turn
        RAG only: the turn's 1-based position in its conversation.
    dataset
        The ``dataset.name`` of the output file the record came from (``Builtin.BoolQ``, the
        custom dataset's name), None when the file's key does not say (`output_location`).
    task_type
        The file's ``taskTypes/<task>`` level, likewise.
    source
        The output file (its key or path) and ``line`` the 1-based line the record came from, so
        an unreadable record can be named.
    human
        A human job's ratings as given, one per worker, metric and model (the aggregates of the
        notification and report are folded from these; ``scores`` hold the 0-1 per-record view).
    """

    index: int
    prompt: str
    response: str | None
    reference: str | None
    category: str | None
    scores: list[MetricScore]
    extra: dict = field(default_factory=dict)
    conversation: int | None = None
    turn: int | None = None
    dataset: str | None = None
    task_type: str | None = None
    source: str | None = None
    line: int | None = None
    human: list[HumanRating] = field(default_factory=list)

    @property
    def unreadable(self) -> bool:
        """No score entry with a metric name and no rating could be read from the line."""
        return not self.scores and not self.human

    @property
    def prompt_hash(self) -> str:
        """First 16 hex digits of the prompt's SHA-256: a stable id to compare prompts across runs."""
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()[:16]
