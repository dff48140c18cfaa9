"""Human evaluation output: ratings of a work team read defensively into scores.

The output format of human jobs is not documented publicly. What evalpipe reads (and what the
local emulator writes, see local/bedrock_emulator/outputs.py)::

    {"humanEvaluationResult": {"scores": [
        {"metricName": "resolved", "ratingMethod": "ThumbsUpDown", "result": "ThumbsUp",
         "workerRatings": [{"workerId": "...", "rating": "ThumbsUp"}]},
        {"metricName": "tone", "ratingMethod": "IndividualLikertScale", "result": 4}]},
     "inputRecord": {...}}

Accepted variations: the score list as ``humanEvaluationResult.scores``, a list under
``humanEvaluationResult`` or ``humanEvaluationResults``; a rating as a number, a boolean, a
numeric string, ``{"floatValue": x}`` / ``{"stringValue": s}``, one ``result`` or a list of
``workerRatings`` / ``ratings`` (averaged). Conversion to a 0-1 score, by rating method:

- ThumbsUpDown: thumbs up / yes / true / positive -> 1, thumbs down / no / false / negative -> 0;
  a number is kept.
- IndividualLikertScale: a rating r on a 1..n scale (``scale`` in the entry, default 5) ->
  (r - 1) / (n - 1).
- Comparison* (ComparisonLikertScale, ComparisonChoice, ComparisonRank): no single score; the
  entry is kept as is in the record's ``extra["comparisons"][metric]`` and the score is N/A.
- No rating method: a number is kept, a boolean becomes 1/0.

Every field not used here stays in ``extra["humanRatings"][metric]``.
"""

from __future__ import annotations

import math

HUMAN_RESULT_KEYS = ("humanEvaluationResult", "humanEvaluationResults")
DEFAULT_LIKERT_SCALE = 5
_UP = ("thumbsup", "up", "yes", "true", "positive", "good", "1")
_DOWN = ("thumbsdown", "down", "no", "false", "negative", "bad", "0")
_USED = frozenset({"metricName", "name", "ratingMethod", "result", "workerRatings", "ratings", "scale"})


def human_score_entries(obj: dict) -> list | None:
    """The raw human score entries of an output line, None when it holds none."""
    for key in HUMAN_RESULT_KEYS:
        value = obj.get(key)
        if isinstance(value, dict) and isinstance(value.get("scores"), list):
            return value["scores"]
        if isinstance(value, list):
            return value
    return None


def is_human_entry(entry: dict) -> bool:
    """A score entry with a rating method, or worker ratings, is a human rating."""
    return "ratingMethod" in entry or "workerRatings" in entry or "ratings" in entry


def human_score(entry: dict, metric: str, extra: dict) -> float | None:
    """The 0-1 score of one human score entry (see the module's conversion table)."""
    method = entry.get("ratingMethod") if isinstance(entry.get("ratingMethod"), str) else None
    unused = {k: v for k, v in entry.items() if k not in _USED}
    if unused:
        extra.setdefault("humanRatings", {})[metric] = unused
    if method is not None and method.startswith("Comparison"):
        extra.setdefault("comparisons", {})[metric] = {
            k: v for k, v in entry.items() if k not in ("metricName", "name")
        }
        return None
    raws = _ratings(entry)
    scale = entry.get("scale")
    scale = (
        scale
        if isinstance(scale, int) and not isinstance(scale, bool) and scale > 1
        else DEFAULT_LIKERT_SCALE
    )
    values = [v for v in (_convert(raw, method, scale) for raw in raws) if v is not None]
    if not values:
        if raws:
            extra.setdefault("stringScores", {})[metric] = raws[0] if len(raws) == 1 else raws
        return None
    return sum(values) / len(values)


def _ratings(entry: dict) -> list:
    for key in ("workerRatings", "ratings"):
        ratings = entry.get(key)
        if isinstance(ratings, list) and ratings:
            return [_rating_value(item) for item in ratings]
    return [entry["result"]] if entry.get("result") is not None else []


def _rating_value(item: object) -> object:
    if isinstance(item, dict):
        for key in ("rating", "value", "result", "score"):
            if key in item:
                return item[key]
    return item


def _convert(raw: object, method: str | None, scale: int) -> float | None:
    if isinstance(raw, dict):
        raw = raw.get("floatValue", raw.get("stringValue"))
    if method == "ThumbsUpDown":
        return _thumbs(raw)
    number = _number(raw)
    if method == "IndividualLikertScale":
        if number is None or not 1 <= number <= scale:
            return None
        return (number - 1) / (scale - 1)
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    return number


def _thumbs(raw: object) -> float | None:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, str):
        word = raw.strip().casefold().replace("_", "").replace("-", "").replace(" ", "")
        if word in _UP:
            return 1.0
        if word in _DOWN:
            return 0.0
        return None
    return _number(raw)


def _number(raw: object) -> float | None:
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None
