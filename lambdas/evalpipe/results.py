"""Bedrock evaluation output: parse `*_output.jsonl` lines, aggregate scores, decide the verdict.

Everything here is pure and streaming: records are parsed one line at a time and folded into an
`Aggregator` that keeps running sums, a bounded heap of the worst flagged ("low") scores and
per-category sums -- never the records themselves -- so memory does not grow with the size of
the job.

Output line (model evaluation, see the Bedrock facts page)::

    {"automatedEvaluationResult": {"scores": [
        {"metricName": "Builtin.Helpfulness", "result": 0.6667,
         "evaluatorDetails": [{"modelIdentifier": "...", "explanation": "..."}]}]},
     "inputRecord": {"prompt": "...", "referenceResponse": "", "category": "...",
                     "modelResponses": [{"response": "...", "modelIdentifier": "..."}]}}

Variations handled: `modelResponses` top-level instead of inside `inputRecord`; `result` as a
number, `null` (N/A), `{"floatValue": x}` or `{"stringValue": s}` (N/A, kept in `extra`); metric
names without the `Builtin.` prefix (classic outputs write `"Accuracy"`: `iter_output_records`
renames them to the suite's `Builtin.Accuracy` when given the suite's metric names, else keeps
them verbatim); values outside [0, 1] (Robustness is a percentage); missing `evaluatorDetails`;
RAG lines whose prompt, response and scores live in `conversationTurns`.

Which dataset a record came from is not in the line: a job with several `datasetMetricConfigs`
entries writes one file per dataset, `.../taskTypes/<task>/datasets/<dataset>/<uuid>_output.jsonl`
(human jobs: `.../datasets/<dataset>/...`), so `iter_output_records` reads `dataset` and
`task_type` from the file's key (`output_location`); a key of another shape leaves them None.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from evalpipe.human_results import HUMAN_RESULT_KEYS, human_score, human_score_entries, is_human_entry
from evalpipe.runs import Verdict

UNCATEGORIZED = "uncategorized"
BUILTIN_PREFIX = "Builtin."
# .../taskTypes/<task>/datasets/<dataset>/<file> (model evaluation) or .../datasets/<dataset>/<file> (human).
_OUTPUT_LOCATION = re.compile(r"(?:^|/)(?:taskTypes/(?P<task>[^/]+)/)?datasets/(?P<dataset>[^/]+)/[^/]+$")
PROMPT_EXCERPT_CHARS = 160
EXPLANATION_EXCERPT_CHARS = 400
ELLIPSIS = "…"

# Keys of an output line / input record that map onto RecordResult fields; the rest goes to `extra`.
_KNOWN_TOP_LEVEL = frozenset(
    {"automatedEvaluationResult", *HUMAN_RESULT_KEYS, "inputRecord", "modelResponses", "category"}
)
_KNOWN_INPUT = frozenset({"prompt", "referenceResponse", "category", "modelResponses", "conversationTurns"})


class OutputFormatError(ValueError):
    """An output line is not something we can read scores from (not JSON, not an object, no scores)."""


class EmptyResultsError(ValueError):
    """The job's output files hold no records at all, so there is nothing to judge."""


class LowRule(Protocol):
    """What the aggregation needs from a low-score rule (`evalpipe.suite.LowScoreRule` fits).

    `is_low` says whether a score is flagged (for a detector such as `Builtin.Harmfulness` the
    flagged scores are the high ones), `badness` orders flagged scores worst first (larger =
    worse), `describe` is the rule as text (`"< 0.5"`, `"> 0.5"`).
    """

    def is_low(self, score: float) -> bool: ...

    def badness(self, score: float) -> float: ...

    def describe(self) -> str: ...


class _Line(Protocol):
    """A numbered line, as `evalpipe.dataset.iter_raw_lines` yields it (`RawLine`)."""

    number: int
    data: bytes


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


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

    @property
    def prompt_hash(self) -> str:
        """First 16 hex digits of the prompt's SHA-256: a stable id to compare prompts across runs."""
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()[:16]


def parse_output_line(obj: object, index: int) -> RecordResult:
    """Read one decoded output line into a `RecordResult`, tolerating every known variation.

    Parameters
    ----------
    obj
        The decoded JSON value of the line.
    index
        The record's index to assign.

    Returns
    -------
    RecordResult
        The record; unknown fields are kept in `extra`.

    Raises
    ------
    OutputFormatError
        If `obj` is not a JSON object or holds no list of scores anywhere we know of.

    Examples
    --------
    >>> line = {"automatedEvaluationResult": {"scores": [{"metricName": "Builtin.Correctness",
    ...         "result": {"floatValue": 1}}]}, "inputRecord": {"prompt": "hi"}}
    >>> parse_output_line(line, 0).scores[0].score
    1.0
    """
    if not isinstance(obj, dict):
        raise OutputFormatError(f"expected a JSON object per line, got {_json_type(obj)}")
    input_record = obj.get("inputRecord")
    if not isinstance(input_record, dict):
        # Some public samples put the input fields at the top level: read them from there.
        input_record = obj
    known = _KNOWN_TOP_LEVEL if input_record is not obj else _KNOWN_TOP_LEVEL | _KNOWN_INPUT
    extra: dict[str, Any] = {k: v for k, v in obj.items() if k not in known}
    if input_record is not obj:
        unknown_input = {k: v for k, v in input_record.items() if k not in _KNOWN_INPUT}
        if unknown_input:
            extra["inputRecord"] = unknown_input

    raw_scores = _score_entries(obj, input_record)
    if raw_scores is None:
        keys = ", ".join(sorted(map(str, obj))) or "none"
        raise OutputFormatError(
            f"no scores found: expected automatedEvaluationResult.scores to be a list (keys present: {keys})"
        )
    scores: list[MetricScore] = []
    for entry in raw_scores:
        score = _metric_score(entry, extra)
        if score is not None:
            scores.append(score)

    response, model_id = _response_of(input_record, obj)
    if model_id is not None:
        extra["modelIdentifier"] = model_id
    category = _category_of(input_record) or _category_of(obj)
    return RecordResult(
        index=index,
        prompt=_prompt_of(input_record),
        response=response,
        reference=_reference_of(input_record),
        category=category,
        scores=scores,
        extra=extra,
    )


def iter_output_records(
    lines: Iterable[bytes | str | _Line],
    *,
    start_index: int = 0,
    source: str | None = None,
    metric_names: Collection[str] = (),
) -> Iterator[RecordResult]:
    """Parse the lines of one output file lazily, skipping blank lines.

    Parameters
    ----------
    lines
        The file's lines: bytes (or str), or numbered `RawLine`s from `evalpipe.dataset`.
    start_index
        Index of the first record, so the records of several files get one running index.
    source
        Name of the file, used in error messages (e.g. its S3 key). When it is the output key,
        each record's `dataset` and `task_type` come from it (`output_location`).
    metric_names
        The suite's metric names (every ``metricNames`` entry). A score named without the
        ``Builtin.`` prefix takes the suite's spelling (`normalise_metric_name`); empty keeps
        every name as the output spells it.

    Yields
    ------
    RecordResult
        One per non-blank line, indexed consecutively from `start_index`.

    Raises
    ------
    OutputFormatError
        On the first unreadable line; the message names the file and the 1-based line number.
    """
    task_type, dataset = output_location(source) if source else (None, None)
    listed = frozenset(metric_names)
    index = start_index
    for position, line in enumerate(lines, start=1):
        number, data = _numbered(line, position)
        if not data.strip():
            continue
        where = f"{source} line {number}" if source else f"line {number}"
        try:
            # Decode explicitly: json.loads(bytes) would guess UTF-16/32 from the first bytes.
            obj = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise OutputFormatError(f"{where}: not UTF-8 text ({exc.reason})") from exc
        except json.JSONDecodeError as exc:
            raise OutputFormatError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        try:
            turns = parse_rag_turns(obj, index, number)
            records = turns if turns is not None else [parse_output_line(obj, index)]
        except OutputFormatError as exc:
            raise OutputFormatError(f"{where}: {exc}") from exc
        for record in records:
            record.dataset, record.task_type = dataset, task_type
            if listed:
                record.scores = [_renamed(score, listed) for score in record.scores]
            yield record
            index += 1


def output_location(key: str) -> tuple[str | None, str | None]:
    """``(task_type, dataset)`` of an output file, from its key; ``(None, None)`` for another shape.

    Examples
    --------
    >>> output_location("r/j/j/a/models/m/taskTypes/QuestionAndAnswer/datasets/Builtin.BoolQ/u_output.jsonl")
    ('QuestionAndAnswer', 'Builtin.BoolQ')
    >>> output_location("r/j/j/abc/datasets/golden/u_output.jsonl"), output_location("out.jsonl")
    ((None, 'golden'), (None, None))
    """
    match = _OUTPUT_LOCATION.search(key)
    if match is None:
        return None, None
    return match.group("task"), match.group("dataset")


def normalise_metric_name(name: str, listed: Collection[str]) -> str:
    """``name`` as the suite spells it: ``"Accuracy"`` -> ``"Builtin.Accuracy"`` when the suite
    lists ``Builtin.Accuracy`` and not ``Accuracy`` itself; any other name is kept.

    Examples
    --------
    >>> normalise_metric_name("Accuracy", ["Builtin.Accuracy"])
    'Builtin.Accuracy'
    >>> normalise_metric_name("Accuracy", ["Accuracy"]), normalise_metric_name("tone", ["Builtin.Accuracy"])
    ('Accuracy', 'tone')
    """
    if name in listed or name.startswith(BUILTIN_PREFIX):
        return name
    prefixed = BUILTIN_PREFIX + name
    return prefixed if prefixed in listed else name


def _renamed(score: MetricScore, listed: Collection[str]) -> MetricScore:
    name = normalise_metric_name(score.metric, listed)
    return score if name == score.metric else replace(score, metric=name)


def parse_rag_turns(obj: object, index: int, conversation: int) -> list[RecordResult] | None:
    """One record per conversation turn of a RAG output line whose turns carry their scores.

    The RAG output layout is not documented publicly, so the turns are looked for in the line's
    ``conversationTurns`` and then in ``inputRecord.conversationTurns``; a turn is either the
    turn itself or ``{"inputRecord": <turn>, ...}``, and its scores are the first list found
    among ``results``, ``scores`` and ``automatedEvaluationResult.scores``. The turn's ``output``
    is the input turn's (precomputed), else the one beside ``inputRecord`` (a live knowledge
    base's; everything but its text is kept in ``extra["output"]``). Scores may be
    numbers or ``{"floatValue": x}``; unknown keys of the line and of the turn go to ``extra``.

    Parameters
    ----------
    obj
        The decoded output line.
    index
        The index of the first turn; the turns get consecutive indexes (global order).
    conversation
        The line's number, stored on every turn.

    Returns
    -------
    list of RecordResult or None
        None when the line is not a RAG line with per-turn scores (read it with
        `parse_output_line`: top-level scores apply to the conversation as a whole).

    Examples
    --------
    >>> line = {"conversationTurns": [
    ...     {"inputRecord": {"prompt": {"content": [{"text": "a?"}]}},
    ...      "results": [{"metricName": "Builtin.Helpfulness", "result": 1}]},
    ...     {"inputRecord": {"prompt": {"content": [{"text": "b?"}]}},
    ...      "results": [{"metricName": "Builtin.Helpfulness", "result": {"floatValue": 0.5}}]}]}
    >>> [(r.index, r.turn, r.prompt, r.scores[0].score) for r in parse_rag_turns(line, 4, 1)]
    [(4, 1, 'a?', 1.0), (5, 2, 'b?', 0.5)]
    """
    if not isinstance(obj, dict):
        return None
    input_record = obj.get("inputRecord") if isinstance(obj.get("inputRecord"), dict) else obj
    turns = _turns(obj) or _turns(input_record)
    if not turns or not any(_turn_scores(turn) is not None for turn in turns):
        return None
    extra: dict[str, Any] = {
        k: v for k, v in obj.items() if k not in _KNOWN_TOP_LEVEL | {"conversationTurns"}
    }
    if input_record is not obj:
        unknown_input = {k: v for k, v in input_record.items() if k not in _KNOWN_INPUT}
        if unknown_input:
            extra["inputRecord"] = unknown_input
    category = _category_of(input_record) or _category_of(obj)
    records = []
    for number, turn in enumerate(turns, start=1):
        turn_input = turn.get("inputRecord") if isinstance(turn.get("inputRecord"), dict) else turn
        turn_extra = dict(extra)
        unknown_turn = {k: v for k, v in turn.items() if k not in _KNOWN_TURN}
        unknown_turn.update({k: v for k, v in turn_input.items() if k not in _KNOWN_TURN})
        if unknown_turn:
            turn_extra["turnRecord"] = unknown_turn
        output = turn_input.get("output")
        if output is None and isinstance(turn.get("output"), dict):
            # A live knowledge base wrote the output beside the input turn: keep what it
            # retrieved and cited (the dataset never had it), the text becomes the response.
            output = turn["output"]
            turn_extra["output"] = {k: v for k, v in output.items() if k != "text"}
        identifier = output.get("knowledgeBaseIdentifier") if isinstance(output, dict) else None
        if isinstance(identifier, str):
            turn_extra["knowledgeBaseIdentifier"] = identifier
        scores = []
        for entry in _turn_scores(turn) or []:
            score = _metric_score(entry, turn_extra)
            if score is not None:
                scores.append(score)
        records.append(
            RecordResult(
                index=index + number - 1,
                prompt=_content_text(turn_input.get("prompt")) or "",
                response=_content_text(output),
                reference=_turn_reference(turn_input),
                category=category,
                scores=scores,
                extra=turn_extra,
                conversation=conversation,
                turn=number,
            )
        )
    return records


_KNOWN_TURN = frozenset(
    {
        "inputRecord",
        "results",
        "scores",
        "automatedEvaluationResult",
        "prompt",
        "referenceResponses",
        "output",
    }
)


def _turn_scores(turn: dict) -> list | None:
    for key in ("results", "scores"):
        if isinstance(turn.get(key), list):
            return turn[key]
    result = turn.get("automatedEvaluationResult")
    if isinstance(result, dict) and isinstance(result.get("scores"), list):
        return result["scores"]
    return None


def _turn_reference(turn: dict) -> str | None:
    refs = turn.get("referenceResponses")
    if isinstance(refs, list) and refs:
        return _content_text(refs[0]) or None
    return None


# ---------------------------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------------------------


class CategoryIndex:
    """Categories of the dataset's lines, to join back onto output records that lack them.

    Bedrock copies the input line into the output, but not always every field, so the parse step
    reads the dataset once and looks records up by (prompt, response). The same pair may occur
    several times with different categories: each key holds a queue consumed in dataset order
    (the output preserves it), and the last category is kept for any surplus lookups. Records
    whose response the dataset does not carry (live inference) are found by prompt alone.
    """

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str | None], deque[str | None]] = {}
        self._by_prompt: dict[str, deque[str | None]] = {}

    @classmethod
    def from_dataset_lines(cls, lines: Iterable[bytes | str | _Line]) -> CategoryIndex:
        """Index the dataset's lines; unreadable lines are skipped (validation reports them).

        Parameters
        ----------
        lines
            The dataset's lines: bytes (or str), or numbered `RawLine`s.

        Returns
        -------
        CategoryIndex
            The index (empty if no line parses).
        """
        index = cls()
        for position, line in enumerate(lines, start=1):
            _, data = _numbered(line, position)
            if not data.strip():
                continue
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                continue
            if isinstance(obj, dict) and _turns(obj):
                # RAG: output records are per turn, so index every turn under the line's category.
                for turn in _turns(obj):
                    prompt = _content_text(turn.get("prompt")) or ""
                    index.add(prompt, _content_text(turn.get("output")), _category_of(obj))
            elif isinstance(obj, dict):
                response, _ = _response_of(obj, obj)
                index.add(_prompt_of(obj), response, _category_of(obj))
        return index

    def add(self, prompt: str, response: str | None, category: str | None) -> None:
        """Remember one dataset line's category (None is kept so duplicates stay aligned)."""
        self._by_pair.setdefault((prompt, response), deque()).append(category)
        self._by_prompt.setdefault(prompt, deque()).append(category)

    def category_for(self, prompt: str, response: str | None) -> str | None:
        """The category of the next dataset line with this prompt (and response), or None."""
        queue = self._by_pair.get((prompt, response))
        if queue is None:
            queue = self._by_prompt.get(prompt)
        if not queue:
            return None
        # Consume in order, but keep the last one: a surplus duplicate gets the same category.
        return queue.popleft() if len(queue) > 1 else queue[0]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._by_prompt.values())


def resolve_category(record: RecordResult, index: CategoryIndex | None = None) -> str:
    """Fill in `record.category`: its own, else the dataset's, else `uncategorized`.

    Parameters
    ----------
    record
        The record; its `category` is set in place.
    index
        The dataset's categories, if the parse step read them.

    Returns
    -------
    str
        The category now on the record.
    """
    if not record.category:
        found = index.category_for(record.prompt, record.response) if index is not None else None
        record.category = found or UNCATEGORIZED
    return record.category


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------


@dataclass
class MetricSummary:
    """Aggregate of one metric over a run; N/A scores are counted apart, never averaged."""

    metric: str
    average: float | None
    scored: int
    na: int
    na_rate: float
    low_count: int
    min: float | None
    max: float | None
    rule: str


@dataclass
class LowRecord:
    """One flagged score, as a notification lists it.

    `rule` is the metric's rule as text (`"< 0.5"`, `"> 0.5"`); run items written before it
    existed read back with `""`.
    """

    index: int
    metric: str
    score: float
    category: str
    prompt_excerpt: str
    explanation: str | None
    rule: str = ""


@dataclass
class RunSummary:
    """What a run's output amounts to.

    Parameters
    ----------
    record_count
        Records parsed.
    metrics
        Per metric, in order of first appearance.
    categories
        Category -> metric -> average (None when every score of that metric there was N/A).
    low_records
        The worst flagged scores, worst first (by their rule's `badness`, then index), capped.
    low_count
        All flagged scores of the run (record x metric pairs), not just the listed ones.
    verdict
        `LOW_SCORES` if any score is flagged, else `PASSED`.
    datasets
        Dataset -> metric -> average, like `categories`, when the records come from more than
        one dataset (a job with several ``datasetMetricConfigs`` entries); empty otherwise,
        since one dataset's averages are `metrics`' own.
    """

    record_count: int
    metrics: dict[str, MetricSummary]
    categories: dict[str, dict[str, float | None]]
    low_records: list[LowRecord]
    low_count: int
    verdict: Verdict
    datasets: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        """Plain dicts/lists/floats (the runs table converts numbers to Decimal)."""
        item = asdict(self)
        item["verdict"] = str(self.verdict)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RunSummary:
        """Rebuild from `as_item()` output or a run item read back from the table."""
        metrics = {name: MetricSummary(**_floats(m)) for name, m in (item.get("metrics") or {}).items()}
        low_records = [LowRecord(**_floats(low)) for low in item.get("low_records") or []]
        return cls(
            record_count=int(item.get("record_count") or 0),
            metrics=metrics,
            categories={
                cat: {m: _float_or_none(v) for m, v in avgs.items()}
                for cat, avgs in (item.get("categories") or {}).items()
            },
            low_records=low_records,
            low_count=int(item.get("low_count") or sum(m.low_count for m in metrics.values())),
            verdict=Verdict(item["verdict"]),
            datasets={
                name: {m: _float_or_none(v) for m, v in avgs.items()}
                for name, avgs in (item.get("datasets") or {}).items()
            },
        )


class _Running:
    """Running count/sum/min/max of one metric (or one metric within one category)."""

    __slots__ = ("low", "max", "min", "n", "na", "total")

    def __init__(self) -> None:
        self.n = 0
        self.na = 0
        self.low = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, score: float | None) -> None:
        if score is None:
            self.na += 1
            return
        self.n += 1
        self.total += score
        self.min = score if self.min is None else min(self.min, score)
        self.max = score if self.max is None else max(self.max, score)

    @property
    def average(self) -> float | None:
        if not self.n:
            return None
        # Clamp: float rounding of sum/n may leave [min, max] by an ulp (e.g. 3 x 0.1).
        return min(max(self.total / self.n, self.min), self.max)  # type: ignore[type-var]


class Aggregator:
    """Fold records into a `RunSummary` without keeping them.

    Parameters
    ----------
    low_rule
        Metric name -> its low-score rule (anything with `is_low(score)`, `badness(score)` and
        `describe()`, see `LowRule`), typically `Suite.low_rule`. Called once per metric.
    max_low_records
        How many of the worst flagged scores to keep for the notification.

    Examples
    --------
    >>> class Below:
    ...     def is_low(self, score): return score < 0.5
    ...     def badness(self, score): return -score
    ...     def describe(self): return "< 0.5"
    >>> agg = Aggregator(lambda metric: Below())
    >>> agg.add(RecordResult(0, "hi", "hello", None, "greeting",
    ...                      [MetricScore("Builtin.Helpfulness", 0.25, "meh", None)]))
    >>> agg.summary().verdict
    <Verdict.LOW_SCORES: 'LOW_SCORES'>
    """

    def __init__(self, low_rule: Callable[[str], Any], max_low_records: int = 10) -> None:
        if max_low_records < 0:
            raise ValueError("max_low_records must be >= 0")
        self._low_rule = low_rule
        self._max_low = max_low_records
        self._rules: dict[str, LowRule] = {}
        self._metrics: dict[str, _Running] = {}
        self._categories: dict[str, dict[str, _Running]] = {}
        self._datasets: dict[str, dict[str, _Running]] = {}
        # Min-heap of the kept flagged scores keyed (badness, -index, -seq): the root is the least
        # bad one (on equal badness the later record), evicted first.
        self._heap: list[tuple[float, int, int, LowRecord]] = []
        self._seq = 0
        self._records = 0

    def add(self, record: RecordResult) -> None:
        """Fold one record in; its category is `record.category` or `uncategorized`."""
        self._records += 1
        category = record.category or UNCATEGORIZED
        per_category = self._categories.setdefault(category, {})
        per_dataset = self._datasets.setdefault(record.dataset, {}) if record.dataset else None
        for item in record.scores:
            running = self._metrics.get(item.metric)
            if running is None:
                running = self._metrics[item.metric] = _Running()
            running.add(item.score)
            per_category.setdefault(item.metric, _Running()).add(item.score)
            if per_dataset is not None:
                per_dataset.setdefault(item.metric, _Running()).add(item.score)
            if item.score is not None:
                rule = self._rule(item.metric)
                if rule.is_low(item.score):
                    running.low += 1
                    self._keep_low(record, item, category, rule)

    def summary(self) -> RunSummary:
        """The summary of everything added so far.

        Raises
        ------
        EmptyResultsError
            If no record was added.
        """
        if not self._records:
            raise EmptyResultsError("the evaluation job's output holds no records")
        metrics = {
            name: MetricSummary(
                metric=name,
                average=r.average,
                scored=r.n,
                na=r.na,
                na_rate=r.na / (r.n + r.na) if r.n + r.na else 0.0,
                low_count=r.low,
                min=r.min,
                max=r.max,
                rule=self._rule(name).describe(),
            )
            for name, r in self._metrics.items()
        }
        categories = {
            cat: {metric: r.average for metric, r in per_metric.items()}
            for cat, per_metric in sorted(self._categories.items())
        }
        # Heap entries are (badness, -index, -seq): sorting them descending gives worst first.
        low_records = [entry[3] for entry in sorted(self._heap, reverse=True)]
        low_count = sum(m.low_count for m in metrics.values())
        datasets = (
            {
                name: {metric: r.average for metric, r in per_metric.items()}
                for name, per_metric in sorted(self._datasets.items())
            }
            if len(self._datasets) > 1
            else {}
        )
        return RunSummary(
            record_count=self._records,
            metrics=metrics,
            categories=categories,
            low_records=low_records,
            low_count=low_count,
            verdict=Verdict.LOW_SCORES if low_count else Verdict.PASSED,
            datasets=datasets,
        )

    def _rule(self, metric: str) -> LowRule:
        rule = self._rules.get(metric)
        if rule is None:
            rule = self._rules[metric] = self._low_rule(metric)
        return rule

    def _keep_low(self, record: RecordResult, item: MetricScore, category: str, rule: LowRule) -> None:
        if not self._max_low:
            return
        assert item.score is not None
        key = (rule.badness(item.score), -record.index, -self._seq)
        self._seq += 1
        if len(self._heap) >= self._max_low and key <= self._heap[0][:3]:
            return  # not worse than the least bad one kept: skip building the LowRecord
        low = LowRecord(
            index=record.index,
            metric=item.metric,
            score=item.score,
            category=category,
            prompt_excerpt=excerpt(record.prompt, PROMPT_EXCERPT_CHARS),
            explanation=excerpt(item.explanation, EXPLANATION_EXCERPT_CHARS) if item.explanation else None,
            rule=rule.describe(),
        )
        if len(self._heap) < self._max_low:
            heapq.heappush(self._heap, (*key, low))
        else:
            heapq.heapreplace(self._heap, (*key, low))


# ---------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------


def excerpt(text: str | None, limit: int) -> str:
    """`text` on one line (whitespace runs collapsed), cut to `limit` characters with an ellipsis."""
    return truncate(" ".join((text or "").split()), limit)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1] + ELLIPSIS


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


def _numbered(line: bytes | str | _Line, position: int) -> tuple[int, bytes]:
    if isinstance(line, bytes):
        return position, line
    if isinstance(line, str):
        return position, line.encode("utf-8")
    return line.number, line.data


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _score_entries(obj: dict, input_record: dict) -> list | None:
    """The raw score entries: top-level `automatedEvaluationResult`, else per RAG turn."""
    result = obj.get("automatedEvaluationResult")
    if isinstance(result, dict) and isinstance(result.get("scores"), list):
        return result["scores"]
    human = human_score_entries(obj)  # human jobs (evalpipe.human_results)
    if human is not None:
        return human
    # RAG outputs are not documented publicly: also look for results inside the turns.
    entries: list | None = None
    for turn in _turns(obj) or _turns(input_record):
        turn_result = turn.get("automatedEvaluationResult")
        if isinstance(turn_result, dict) and isinstance(turn_result.get("scores"), list):
            entries = (entries or []) + turn_result["scores"]
    return entries


def _metric_score(entry: object, extra: dict) -> MetricScore | None:
    """One score entry; entries without a metric name are kept in extra['unparsedScores']."""
    metric = (entry.get("metricName") or entry.get("name")) if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(metric, str):
        extra.setdefault("unparsedScores", []).append(entry)
        return None
    if is_human_entry(entry):
        score = human_score(entry, metric, extra)
        return MetricScore(metric=metric, score=score, explanation=None, evaluator=None)
    raw = entry.get("result")
    score = _number(raw)
    if score is None and raw is not None:
        # A string rating ({"stringValue": ...}) or anything else non-numeric is N/A for averages.
        extra.setdefault("stringScores", {})[metric] = raw
    explanation = evaluator = None
    details = entry.get("evaluatorDetails")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        explanation = _str_or_none(details[0].get("explanation"))
        evaluator = _str_or_none(details[0].get("modelIdentifier"))
    return MetricScore(metric=metric, score=score, explanation=explanation, evaluator=evaluator)


def _number(raw: object) -> float | None:
    """A finite float from a number or {"floatValue": x}; anything else (null, strings) is N/A."""
    if isinstance(raw, dict):
        raw = raw.get("floatValue")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _turns(record: dict) -> list[dict]:
    turns = record.get("conversationTurns")
    return [t for t in turns if isinstance(t, dict)] if isinstance(turns, list) else []


def _content_text(value: object) -> str | None:
    """Text of a plain string or of a `{"content": [{"text": ...}]}` block (RAG shapes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return value["text"]
        content = value.get("content")
        if isinstance(content, list):
            texts = [c["text"] for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
            return "\n".join(texts) if texts else None
    return None


def _prompt_of(record: dict) -> str:
    prompt = _content_text(record.get("prompt"))
    if prompt is not None:
        return prompt
    texts = [t for t in (_content_text(turn.get("prompt")) for turn in _turns(record)) if t is not None]
    return "\n".join(texts)


def _response_of(record: dict, top: dict) -> tuple[str | None, str | None]:
    """(response, modelIdentifier): `modelResponses` inside the record or top-level, else RAG output."""
    for holder in (record, top):
        responses = holder.get("modelResponses")
        if isinstance(responses, list) and responses and isinstance(responses[0], dict):
            first = responses[0]
            return _str_or_none(first.get("response")), _str_or_none(first.get("modelIdentifier"))
    outputs = [_content_text(turn.get("output")) for turn in _turns(record)]
    texts = [t for t in outputs if t is not None]
    return ("\n".join(texts) if texts else None), None


def _reference_of(record: dict) -> str | None:
    reference = _content_text(record.get("referenceResponse"))
    if reference is None:
        texts = []
        for turn in _turns(record):
            refs = turn.get("referenceResponses")
            if isinstance(refs, list) and refs:
                text = _content_text(refs[0])
                if text is not None:
                    texts.append(text)
        reference = "\n".join(texts)
    return reference or None


def _category_of(record: dict) -> str | None:
    category = record.get("category")
    if isinstance(category, bool) or category is None:
        return None
    if isinstance(category, int | float | str):
        return str(category).strip() or None
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _floats(item: dict) -> dict:
    """Numbers read back from DynamoDB may be ints where floats were stored (1.0 -> 1)."""
    floats = {"average", "na_rate", "min", "max", "score"}
    return {k: (_float_or_none(v) if k in floats else v) for k, v in item.items()}
