"""Reading a judge's answer onto the metric's rating scale, without guessing.

The answer's JSON object is read (the whole text, a fenced block, or the first object in the text);
without one, the whole answer must itself be a definition. Its ``rating`` maps onto the scale when,
case, surrounding quotes, a final full stop and runs of spaces aside, it is one rating's definition,
or that rating's value as the prompt shows it (``1``, ``"ok"``). Anything else is *unmappable*: the
preview shows it as the judge wrote it and gives no score (never the nearest label).

The rating gives the score: its ``floatValue``; the N/A rating (``floatValue`` -1, or a definition
"N/A" / "Not applicable") is N/A, as Bedrock writes ``null`` for it; a ``stringValue`` rating has no
number, its value is shown instead. A metric without a rating scale has no score (Bedrock reports
only the explanation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from evalpipe.preview.metrics import Rating

MAX_SHOWN = 300  # characters of an unmappable answer kept for display
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass(frozen=True)
class Judgement:
    """What one judge answer says, on the metric's scale.

    Attributes
    ----------
    reasoning : str
        The answer's ``reasoning`` (or ``explanation``), else the whole answer.
    rating : Rating or None
        The rating the answer maps onto; None without a scale or when it cannot be mapped.
    unmappable : str or None
        The answer's rating (or the whole answer) when it names no rating of the scale.
    """

    reasoning: str
    rating: Rating | None = None
    unmappable: str | None = None

    @property
    def not_applicable(self) -> bool:
        return self.rating is not None and self.rating.not_applicable

    @property
    def score(self) -> float | None:
        """The rating's ``floatValue``; None for N/A, a string rating, no scale or an unmappable answer."""
        if self.rating is None or self.not_applicable or isinstance(self.rating.value, str):
            return None
        return self.rating.value


def read_answer(text: str, scale: Sequence[Rating]) -> Judgement:
    """Map a judge's answer onto ``scale``.

    Examples
    --------
    >>> from evalpipe.preview.metrics import Rating
    >>> scale = (Rating("N/A", -1.0), Rating("Poor", 0.0), Rating("Good", 1.0))
    >>> read_answer('{"reasoning": "It asks first.", "rating": "Good"}', scale).score
    1.0
    >>> read_answer('{"reasoning": "No action.", "rating": "n/a"}', scale).not_applicable
    True
    >>> read_answer('{"reasoning": "Hmm.", "rating": "Mostly good"}', scale).unmappable
    'Mostly good'
    """
    payload = _json_object(text)
    reasoning = _reasoning(payload, text)
    if not scale:
        return Judgement(reasoning)
    if payload is not None:
        answered = payload.get("rating")
        if answered is None:
            return Judgement(reasoning, unmappable=_shown(text))
    else:
        answered = text
    rating = _match(answered, scale)
    if rating is None:
        return Judgement(
            reasoning, unmappable=_shown(answered if isinstance(answered, str) else json.dumps(answered))
        )
    return Judgement(reasoning, rating)


def _json_object(text: str) -> dict[str, object] | None:
    candidates = [text.strip(), *(found.group(1) for found in _FENCE.finditer(text))]
    decoder = json.JSONDecoder()
    candidates += [text[start:] for start in (m.start() for m in re.finditer(r"\{", text))]
    for candidate in candidates:
        try:
            value, _ = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _reasoning(payload: dict[str, object] | None, text: str) -> str:
    for key in ("reasoning", "explanation"):
        value = (payload or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return text.strip()


def _normalised(text: str) -> str:
    return " ".join(text.strip().strip("\"'").strip().removesuffix(".").split()).casefold()


def _match(answered: object, scale: Sequence[Rating]) -> Rating | None:
    if isinstance(answered, bool):
        return None
    if isinstance(answered, int | float):
        return next((r for r in scale if isinstance(r.value, float) and r.value == answered), None)
    if not isinstance(answered, str) or not answered.strip():
        return None
    wanted = _normalised(answered)
    by_definition = next((r for r in scale if _normalised(r.definition) == wanted), None)
    return by_definition or next((r for r in scale if _normalised(r.shown_value) == wanted), None)


def _shown(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
