"""Output-line parsing: `parse_output_line` reads one decoded line (model evaluation, human job, or a
RAG line scored as a whole) into a `RecordResult`; `iter_output_records` streams one
``*_output.jsonl`` file, sends RAG lines scored per turn to `evalpipe.results.rag_turns`, takes
each record's dataset and task type from the file's key (`output_location`) and the suite's
spelling of built-in metric names (`normalise_metric_name`), and raises `OutputFormatError` naming
the first unreadable line.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from evalpipe.results.fields import (
    _KNOWN_INPUT,
    _KNOWN_TOP_LEVEL,
    _category_of,
    _metric_score,
    _numbered,
    _prompt_of,
    _reference_of,
    _response_of,
    _score_entries,
)
from evalpipe.results.human import human_loops, read_human_loops
from evalpipe.results.rag_turns import parse_rag_turns
from evalpipe.results.records import HumanRating, MetricScore, RecordResult
from evalpipe.suite.keys import BUILTIN_PREFIX

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator

    from evalpipe.dataset import RawLine

# .../taskTypes/<task>/datasets/<dataset>/<file> (model evaluation), .../datasets/<dataset>/<file>
# (human), .../inference_configs/<n>/datasets/<dataset>/<file> (RAG).
_OUTPUT_LOCATION = re.compile(r"(?:^|/)(?:taskTypes/(?P<task>[^/]+)/)?datasets/(?P<dataset>[^/]+)/[^/]+$")


class OutputFormatError(ValueError):
    """An output line is not something we can read scores from (not JSON, not an object, no scores)."""


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

    loops = human_loops(obj)  # the documented human layout (evalpipe.results.human)
    ratings: list[HumanRating] = []
    scores: list[MetricScore] = []
    if loops is not None:
        scores, ratings = read_human_loops(loops, extra)
    else:
        raw_scores = _score_entries(obj, input_record)
        if raw_scores is None:
            keys = ", ".join(sorted(map(str, obj))) or "none"
            raise OutputFormatError(
                "no scores found: expected automatedEvaluationResult.scores or "
                f"humanEvaluationResult[].humanAnswers to be a list (keys present: {keys})"
            )
        for entry in raw_scores:
            score = _metric_score(entry, extra, ratings)
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
        human=ratings,
    )


def iter_output_records(
    lines: Iterable[bytes | str | RawLine],
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
            record.source, record.line = source, number
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
