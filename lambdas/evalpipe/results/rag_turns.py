"""RAG per-turn parsing: `parse_rag_turns` splits a RAG output line whose conversation turns carry
their own scores into one `RecordResult` per turn (consecutive indexes, conversation and turn
numbers), including the output a live knowledge base writes beside the input turn. A module of its
own because the RAG output layout is not documented publicly and is looked for in several places.
"""

from __future__ import annotations

from typing import Any

from evalpipe.results.fields import (
    _KNOWN_INPUT,
    _KNOWN_TOP_LEVEL,
    _category_of,
    _content_text,
    _metric_score,
    _turns,
)
from evalpipe.results.records import MetricScore, RecordResult


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
    input_record = _input_of(obj)
    turns = _turns(obj) or _turns(input_record)
    if not turns or not any(_turn_scores(turn) is not None for turn in turns):
        return None
    extra = _line_extra(obj, input_record)
    category = _category_of(input_record) or _category_of(obj)
    return [
        _turn_record(
            turn,
            dict(extra),
            index=index + number - 1,
            conversation=conversation,
            number=number,
            category=category,
        )
        for number, turn in enumerate(turns, start=1)
    ]


def _input_of(record: dict) -> dict:
    """The record's ``inputRecord`` when it is wrapped in one, else the record itself."""
    nested = record.get("inputRecord")
    return nested if isinstance(nested, dict) else record


def _line_extra(obj: dict, input_record: dict) -> dict[str, Any]:
    """The line's unknown keys, plus its input record's under ``inputRecord`` (every turn gets them)."""
    extra: dict[str, Any] = {
        k: v for k, v in obj.items() if k not in _KNOWN_TOP_LEVEL | {"conversationTurns"}
    }
    if input_record is not obj:
        unknown_input = {k: v for k, v in input_record.items() if k not in _KNOWN_INPUT}
        if unknown_input:
            extra["inputRecord"] = unknown_input
    return extra


def _turn_record(
    turn: dict,
    extra: dict[str, Any],
    *,
    index: int,
    conversation: int,
    number: int,
    category: str | None,
) -> RecordResult:
    """One turn as a record; ``extra`` is the turn's own copy of the line's extra, filled in here."""
    turn_input = _input_of(turn)
    unknown_turn = {k: v for k, v in turn.items() if k not in _KNOWN_TURN}
    unknown_turn.update({k: v for k, v in turn_input.items() if k not in _KNOWN_TURN})
    if unknown_turn:
        extra["turnRecord"] = unknown_turn
    output = _turn_output(turn, turn_input, extra)
    return RecordResult(
        index=index,
        prompt=_content_text(turn_input.get("prompt")) or "",
        response=_content_text(output),
        reference=_turn_reference(turn_input),
        category=category,
        scores=_scores_of(turn, extra),
        extra=extra,
        conversation=conversation,
        turn=number,
    )


def _turn_output(turn: dict, turn_input: dict, extra: dict[str, Any]) -> object:
    """The turn's output: the input turn's (precomputed), else the one a live knowledge base wrote."""
    output = turn_input.get("output")
    if output is None and isinstance(turn.get("output"), dict):
        # A live knowledge base wrote the output beside the input turn: keep what it
        # retrieved and cited (the dataset never had it), the text becomes the response.
        output = turn["output"]
        extra["output"] = {k: v for k, v in output.items() if k != "text"}
    identifier = output.get("knowledgeBaseIdentifier") if isinstance(output, dict) else None
    if isinstance(identifier, str):
        extra["knowledgeBaseIdentifier"] = identifier
    return output


def _scores_of(turn: dict, extra: dict[str, Any]) -> list[MetricScore]:
    """The turn's parsed scores; entries without a metric name go to ``extra``."""
    scores = []
    for entry in _turn_scores(turn) or []:
        score = _metric_score(entry, extra)
        if score is not None:
            scores.append(score)
    return scores


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
