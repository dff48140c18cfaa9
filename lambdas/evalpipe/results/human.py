"""Human evaluation output: the work team's ratings, read into per-record scores and raw ratings.

The documented layout (AWS user guide, "Understand how the results of your model evaluation job
are saved in Amazon S3", model-evaluation-report-s3; the per-method shapes as the SageMaker page
"Understand the results of a human evaluation job" lists them)::

    {"humanEvaluationResult": [{"flowDefinitionArn": ..., "humanLoopName": ...,
        "humanAnswers": [{"workerId": "...", "answerContent": {"evaluationResults": {
            "thumbsUpDown": [{"metricName": "m", "modelResponseId": "0", "result": true}],
            "individualLikertScale": [{"metricName": "m", "modelResponseId": "0", "result": 4}],
            "comparisonChoice": [{"metricName": "m", "result": {"modelResponseId": "1"}}],
            "comparisonRank": [{"metricName": "m",
                                "result": [{"modelResponseId": "1", "rank": 1}, ...]}],
            "comparisonLikertScale": [{"metricName": "m", "leftModelResponseId": "0",
                                       "rightModelResponseId": "1", "result": 2}]}},
          "submissionTime": ..., ...}],
        "modelResponseIdMap": {"0": "<model identifier>", "1": "..."}, "inputContent": {...}}],
     "inputRecord": {...}, "modelResponses": [{"modelIdentifier": ..., "response": ...}]}

One `HumanRating` per worker, metric and model, its value as given (thumbs 1/0, Likert values,
ranks; a choice is 1 for the chosen model and 0 for the other). The record's `MetricScore`s
(one per metric, or per metric and model when the loop rated two models: ``"<metric>@<model>"``)
are the workers' average on 0-1: thumbs as is, a Likert r on 1..5 -> (r - 1) / 4, a choice ->
the share of workers choosing the model, a rank r of n -> (n - r) / (n - 1);
ComparisonLikertScale gives no 0-1 score (N/A): which end favours which model is not documented,
so only its tally is kept. Loop fields not modelled here are kept in ``extra["humanLoops"]``.

Older layout (what this project's emulator wrote before; kept readable for stored outputs)::

    {"humanEvaluationResult": {"scores": [
        {"metricName": "resolved", "ratingMethod": "ThumbsUpDown", "result": "ThumbsUp",
         "workerRatings": [{"workerId": "...", "rating": "ThumbsUp"}]},
        {"metricName": "tone", "ratingMethod": "IndividualLikertScale", "result": 4}]},
     "inputRecord": {...}}

Accepted variations of it: the score list as ``humanEvaluationResult.scores``, a list under
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
from collections import defaultdict
from typing import Any

from evalpipe.results.records import HumanRating, MetricScore

HUMAN_RESULT_KEYS = ("humanEvaluationResult", "humanEvaluationResults")
DEFAULT_LIKERT_SCALE = 5
_UP = ("thumbsup", "up", "yes", "true", "positive", "good", "1")
_DOWN = ("thumbsdown", "down", "no", "false", "negative", "bad", "0")
_USED = frozenset({"metricName", "name", "ratingMethod", "result", "workerRatings", "ratings", "scale"})


# evaluationResults keys (camelCase) -> the API's rating method names.
RATING_METHODS = {
    "thumbsUpDown": "ThumbsUpDown",
    "individualLikertScale": "IndividualLikertScale",
    "comparisonChoice": "ComparisonChoice",
    "comparisonRank": "ComparisonRank",
    "comparisonLikertScale": "ComparisonLikertScale",
}
_PAIR_SEPARATOR = " vs "


def human_loops(obj: dict) -> list[dict] | None:
    """The documented human loops of an output line (entries with ``humanAnswers``), else None."""
    loops = obj.get("humanEvaluationResult")
    if isinstance(loops, dict):
        loops = [loops]
    if not isinstance(loops, list):
        return None
    found = [loop for loop in loops if isinstance(loop, dict) and isinstance(loop.get("humanAnswers"), list)]
    return found or None


def read_human_loops(loops: list[dict], extra: dict) -> tuple[list[MetricScore], list[HumanRating]]:
    """Scores and ratings of the documented layout (see the module docstring).

    An entry that cannot be read (no ``metricName``, a result of the wrong type) is kept in
    ``extra["unparsedScores"]``; so a line whose every entry is unreadable yields nothing and the
    aggregation names it.
    """
    ratings: list[HumanRating] = []
    models: set[str] = set()
    for loop in loops:
        id_map = loop.get("modelResponseIdMap")
        id_map = {str(k): str(v) for k, v in id_map.items()} if isinstance(id_map, dict) else {}
        models.update(id_map.values())
        kept = {k: v for k, v in loop.items() if k != "humanAnswers"}
        answers_kept = []
        for answer in loop["humanAnswers"]:
            if not isinstance(answer, dict):
                extra.setdefault("unparsedScores", []).append(answer)
                continue
            answers_kept.append({k: v for k, v in answer.items() if k != "answerContent"})
            worker = answer.get("workerId") if isinstance(answer.get("workerId"), str) else None
            results = answer.get("answerContent", {})
            results = results.get("evaluationResults") if isinstance(results, dict) else None
            for key, entries in (results or {}).items():
                for entry in entries if isinstance(entries, list) else [entries]:
                    read = _answer_ratings(key, entry, id_map, worker)
                    if read is None:
                        extra.setdefault("unparsedScores", []).append({key: entry})
                    else:
                        ratings.extend(read)
        extra.setdefault("humanLoops", []).append({**kept, "humanAnswers": answers_kept})
    return _scores_of(ratings, per_model=len(models) > 1), ratings


def _answer_ratings(
    key: str, entry: object, id_map: dict[str, str], worker: str | None
) -> list[HumanRating] | None:
    """The ratings of one ``evaluationResults.<method>[]`` entry; None when it cannot be read."""
    method = RATING_METHODS.get(key, key[:1].upper() + key[1:])
    metric = entry.get("metricName") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(metric, str):
        return None
    result = entry.get("result")

    def model(response_id: object) -> str | None:
        return None if response_id is None else id_map.get(str(response_id), str(response_id))

    def rating(value: float, about: str | None) -> HumanRating:
        return HumanRating(metric=metric, method=method, model=about, value=value, worker=worker)

    if method == "ComparisonChoice":
        chosen = result.get("modelResponseId") if isinstance(result, dict) else result
        if not isinstance(chosen, str | int) or isinstance(chosen, bool):
            return None
        ids = set(id_map) | {str(chosen)}
        return [rating(1.0 if rid == str(chosen) else 0.0, model(rid)) for rid in sorted(ids)]
    if method == "ComparisonRank":
        ranks = [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []
        read = [(model(r.get("modelResponseId")), _number(r.get("rank"))) for r in ranks]
        if not read or any(value is None for _, value in read):
            return None
        return [rating(value, about) for about, value in read if value is not None]
    value = _thumbs(result) if method == "ThumbsUpDown" else _number(result)
    if value is None:
        return None
    if method == "ComparisonLikertScale":
        left, right = model(entry.get("leftModelResponseId")), model(entry.get("rightModelResponseId"))
        pair = f"{left}{_PAIR_SEPARATOR}{right}"
        return [rating(value, pair)]
    return [rating(value, model(entry.get("modelResponseId")))]


def _scores_of(ratings: list[HumanRating], *, per_model: bool) -> list[MetricScore]:
    """One 0-1 score per metric (per metric and model when two models were rated), workers averaged."""
    grouped: dict[str, list[float | None]] = defaultdict(list)
    for r in ratings:
        name = human_metric_key(
            r.metric, r.model if per_model and r.method != "ComparisonLikertScale" else None
        )
        grouped[name].append(_unit_score(r, ratings))
    scores = []
    for name, values in grouped.items():
        known = [v for v in values if v is not None]
        score = sum(known) / len(known) if known else None
        scores.append(MetricScore(metric=name, score=score, explanation=None, evaluator=None))
    return scores


def human_metric_key(metric: str, model: str | None) -> str:
    """``metric``, or ``metric@model`` when a job rates two models (the per-model metric key)."""
    return f"{metric}@{model}" if model else metric


def _unit_score(rating: HumanRating, all_ratings: list[HumanRating]) -> float | None:
    if rating.method == "IndividualLikertScale":
        return (
            (rating.value - 1) / (DEFAULT_LIKERT_SCALE - 1)
            if 1 <= rating.value <= DEFAULT_LIKERT_SCALE
            else None
        )
    if rating.method == "ComparisonRank":
        ranked = {r.model for r in all_ratings if r.metric == rating.metric and r.method == "ComparisonRank"}
        n = max(len(ranked), 2)
        return (n - rating.value) / (n - 1) if 1 <= rating.value <= n else None
    if rating.method == "ComparisonLikertScale":
        return None
    return rating.value


def human_score_entries(obj: dict) -> list | None:
    """The raw human score entries of an output line (the older layout), None when it holds none."""
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


def human_score(
    entry: dict, metric: str, extra: dict, ratings: list[HumanRating] | None = None
) -> float | None:
    """The 0-1 score of one human score entry of the older layout (see the module's conversion
    table); each worker's rating as given is appended to ``ratings``."""
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
    if ratings is not None:
        for raw in raws:
            given = _thumbs(_plain(raw)) if method == "ThumbsUpDown" else _number(_plain(raw))
            if given is not None:
                ratings.append(HumanRating(metric=metric, method=method, model=None, value=given))
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


def _plain(raw: object) -> Any:
    return raw.get("floatValue", raw.get("stringValue")) if isinstance(raw, dict) else raw


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
