"""Tolerant readers of the fields of an output line (or a dataset line), shared by the model
evaluation parser, the RAG per-turn parser and the category index: prompt, response, reference and
category in their plain and RAG shapes (``conversationTurns``, ``content`` blocks), the score
entries (automated, human or per turn) and one entry's score, and the numbering of raw lines. They
absorb the variations the package docstring lists; private to the package.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from evalpipe.results.human import HUMAN_RESULT_KEYS, human_score, human_score_entries, is_human_entry
from evalpipe.results.records import MetricScore

if TYPE_CHECKING:
    from evalpipe.dataset import RawLine
    from evalpipe.results.records import HumanRating

# Keys of an output line / input record that map onto RecordResult fields; the rest goes to `extra`.
_KNOWN_TOP_LEVEL = frozenset(
    {"automatedEvaluationResult", *HUMAN_RESULT_KEYS, "inputRecord", "modelResponses", "category"}
)
_KNOWN_INPUT = frozenset({"prompt", "referenceResponse", "category", "modelResponses", "conversationTurns"})


def _numbered(line: bytes | str | RawLine, position: int) -> tuple[int, bytes]:
    if isinstance(line, bytes):
        return position, line
    if isinstance(line, str):
        return position, line.encode("utf-8")
    return line.number, line.data


def _score_entries(obj: dict, input_record: dict) -> list | None:
    """The raw score entries: top-level `automatedEvaluationResult`, else per RAG turn."""
    result = obj.get("automatedEvaluationResult")
    if isinstance(result, dict) and isinstance(result.get("scores"), list):
        return result["scores"]
    human = human_score_entries(obj)  # human jobs (evalpipe.results.human)
    if human is not None:
        return human
    # RAG outputs are not documented publicly: also look for results inside the turns.
    entries: list | None = None
    for turn in _turns(obj) or _turns(input_record):
        turn_result = turn.get("automatedEvaluationResult")
        if isinstance(turn_result, dict) and isinstance(turn_result.get("scores"), list):
            entries = (entries or []) + turn_result["scores"]
    return entries


def _metric_score(entry: object, extra: dict, ratings: list[HumanRating] | None = None) -> MetricScore | None:
    """One score entry; entries without a metric name are kept in extra['unparsedScores'];
    a human entry's ratings as given go to ``ratings``."""
    metric = (entry.get("metricName") or entry.get("name")) if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(metric, str):
        extra.setdefault("unparsedScores", []).append(entry)
        return None
    if is_human_entry(entry):
        score = human_score(entry, metric, extra, ratings)
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
