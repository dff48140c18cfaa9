"""The judge prompt of a preview: a custom metric's instructions rendered with one record, then the
rating scale and the answer format; and the reading of that prompt back (what the local emulator's
Converse stand-in does to answer it as the offline judge would).

Rendering follows the user guide's input variables: ``{{prompt}}``, ``{{prediction}}`` and
``{{ground_truth}}`` (model evaluation, "Create a prompt for a custom metric"); for RAG suites also
``{{context}}`` (the retrieved passages), ``{{reference_contexts}}`` and ``{{chat_history}}`` (the
conversation's earlier turns). Only the exact spelling ``{{name}}`` is filled in, as Bedrock does;
anything else between braces stays as written and is reported.

The format (docs/preview.md)::

    <instructions, each variable replaced by <name>value</name>>

    Rating scale: answer with exactly one of these definitions, as written (its value follows in brackets).
    - "Poor" [0]
    - "Good" [1]

    Answer with one JSON object and nothing else:
    {"reasoning": "<why, in one to three sentences>", "rating": "<one definition of the rating scale>"}

A metric without a rating scale asks for ``{"reasoning"}`` only: Bedrock reports explanations
without scores for such a metric. The tags around the values are ours (the guide does not say how
Bedrock inserts them); they keep a record's text from reading as instructions and let the prompt be
read back exactly. The output instructions are ours as well: Bedrock adds its own, which differ
between evaluator models and are shown only in the console's preview.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalpipe.preview.metrics import Rating
from evalpipe.suite.facts import dig

if TYPE_CHECKING:
    from collections.abc import Mapping

    from evalpipe.preview.metrics import CustomMetric

MODEL_VARIABLES = ("prompt", "prediction", "ground_truth")
RAG_VARIABLES = (*MODEL_VARIABLES, "context", "reference_contexts", "chat_history")
# What each variable reads, for the notes on a record that lacks it.
SOURCES = {
    "prompt": "prompt",
    "prediction": "modelResponses[0].response",
    "ground_truth": "referenceResponse",
    "context": "output.retrievedPassages",
    "reference_contexts": "referenceContexts",
    "chat_history": "earlier conversationTurns",
}
RAG_SOURCES = {
    **SOURCES,
    "prompt": "prompt.content[0].text",
    "prediction": "output.text",
    "ground_truth": "referenceResponses[0].content[0].text",
}
PASSAGE_SEPARATOR = "\n\n"

SCALE_HEADING = (
    "Rating scale: answer with exactly one of these definitions, as written (its value follows in brackets)."
)
NO_SCALE_HEADING = "No rating scale is defined: give your assessment only."
ANSWER_HEADING = "Answer with one JSON object and nothing else:"
RATING_FORMAT = (
    '{"reasoning": "<why, in one to three sentences>", "rating": "<one definition of the rating scale>"}'
)
REASONING_FORMAT = '{"reasoning": "<your assessment, in one to three sentences>"}'

_VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")
_TAGGED = re.compile(r"<(" + "|".join(RAG_VARIABLES) + r")>(.*?)</\1>", re.DOTALL)
_SCALE_LINE = re.compile(r'^- (".*") \[(.*)\]$')


@dataclass(frozen=True)
class Sample:
    """One record (for RAG: one conversation turn) as a judge prompt reads it.

    Attributes
    ----------
    line : int
        The record's line number in the dataset file.
    turn : int or None
        RAG: the turn's number in the conversation (1-based); None for model evaluation.
    values : Mapping[str, str]
        Every variable of the suite's kind; ``""`` where the record has nothing for it.
    missing : tuple of str
        The variables the record has nothing for, as ``name (source)``.
    """

    line: int
    turn: int | None
    values: Mapping[str, str]
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``line 3`` or ``line 3, turn 2``."""
        return f"line {self.line}" + (f", turn {self.turn}" if self.turn is not None else "")


@dataclass(frozen=True)
class JudgePrompt:
    """A rendered judge prompt and what rendering found.

    Attributes
    ----------
    text : str
        What the judge receives.
    empty : tuple of str
        Variables used by the instructions that the record has nothing for (rendered empty).
    unknown : tuple of str
        ``{{...}}`` the instructions use that Bedrock does not fill in for this kind (left as written).
    """

    text: str
    empty: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadBack:
    """A judge prompt of this format read back: the metric and the record it was rendered with."""

    instructions: str  # the variables restored as {{name}}
    values: dict[str, str] = field(default_factory=dict)
    rating_scale: tuple[Rating, ...] = ()


def samples_of(record: Mapping[str, object], line: int, *, rag: bool) -> list[Sample]:
    """The samples a record gives: itself (model evaluation) or each of its turns (RAG).

    Examples
    --------
    >>> record = {"prompt": "Hi?", "modelResponses": [{"response": "Hello."}]}
    >>> (sample,) = samples_of(record, 4, rag=False)
    >>> sample.values["prompt"], sample.values["prediction"], sample.missing
    ('Hi?', 'Hello.', ('ground_truth (referenceResponse)',))
    """
    if not rag:
        values = {
            "prompt": _text(record.get("prompt")),
            "prediction": _text(dig(record, "modelResponses", 0, "response")),
            "ground_truth": _text(record.get("referenceResponse")),
        }
        return [Sample(line, None, values, _missing(values, SOURCES))]
    turns = record.get("conversationTurns")
    samples: list[Sample] = []
    history: list[str] = []
    for number, turn in enumerate(turns if isinstance(turns, list) else [], start=1):
        prompt, answer = _content_text(dig(turn, "prompt")), _text(dig(turn, "output", "text"))
        values = {
            "prompt": prompt,
            "prediction": answer,
            "ground_truth": _content_text(dig(turn, "referenceResponses", 0)),
            "context": PASSAGE_SEPARATOR.join(_passages(dig(turn, "output"))),
            "reference_contexts": PASSAGE_SEPARATOR.join(
                text for item in _list(dig(turn, "referenceContexts")) if (text := _content_text(item))
            ),
            "chat_history": "\n".join(history),
        }
        missing = _missing(values, RAG_SOURCES, optional=() if number > 1 else ("chat_history",))
        samples.append(Sample(line, number, values, missing))
        history += [f"User: {prompt}", f"Assistant: {answer}"]
    return samples


def judge_prompt(metric: CustomMetric, sample: Sample) -> JudgePrompt:
    """The prompt the judge receives for ``metric`` on ``sample`` (the format above).

    Examples
    --------
    >>> from evalpipe.preview.metrics import CustomMetric
    >>> metric = CustomMetric("short", "Is it short?\\n\\nResponse: {{prediction}}",
    ...                       (Rating("No", 0.0), Rating("Yes", 1.0)))
    >>> print(judge_prompt(metric, Sample(1, None, {"prediction": "Hi."})).text)
    Is it short?
    <BLANKLINE>
    Response: <prediction>Hi.</prediction>
    <BLANKLINE>
    Rating scale: answer with exactly one of these definitions, as written (its value follows in brackets).
    - "No" [0]
    - "Yes" [1]
    <BLANKLINE>
    Answer with one JSON object and nothing else:
    {"reasoning": "<why, in one to three sentences>", "rating": "<one definition of the rating scale>"}
    """
    empty: list[str] = []
    unknown: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in sample.values:
            unknown.append(match.group(0))
            return match.group(0)
        if not sample.values[name]:
            empty.append(name)
        return f"<{name}>{sample.values[name]}</{name}>"

    body = _VARIABLE.sub(fill, metric.instructions)
    if metric.rating_scale:
        ratings = "\n".join(f"- {json.dumps(r.definition)} [{_shown(r)}]" for r in metric.rating_scale)
        tail = f"{SCALE_HEADING}\n{ratings}\n\n{ANSWER_HEADING}\n{RATING_FORMAT}"
    else:
        tail = f"{NO_SCALE_HEADING}\n\n{ANSWER_HEADING}\n{REASONING_FORMAT}"
    return JudgePrompt(
        f"{body.rstrip()}\n\n{tail}", tuple(dict.fromkeys(empty)), tuple(dict.fromkeys(unknown))
    )


def read_judge_prompt(text: str) -> ReadBack | None:
    """Read a prompt of this format back (None when ``text`` is not one).

    Examples
    --------
    >>> from evalpipe.preview.metrics import CustomMetric
    >>> metric = CustomMetric("short", "Is it short?\\n\\nResponse: {{prediction}}", (Rating("Yes", 1.0),))
    >>> back = read_judge_prompt(judge_prompt(metric, Sample(1, None, {"prediction": "Hi."})).text)
    >>> back.instructions == metric.instructions, back.values, back.rating_scale
    (True, {'prediction': 'Hi.'}, (Rating(definition='Yes', value=1.0),))
    >>> read_judge_prompt("What is the capital of France?") is None
    True
    """
    formats = ((SCALE_HEADING, RATING_FORMAT), (NO_SCALE_HEADING, REASONING_FORMAT))
    heading, ending = next(
        (
            (h, f"\n\n{ANSWER_HEADING}\n{a}")
            for h, a in formats
            if text.endswith(f"\n\n{ANSWER_HEADING}\n{a}")
        ),
        ("", ""),
    )
    body, found, scale_text = text.removesuffix(ending).rpartition(f"\n\n{heading}")
    scale = _read_scale(scale_text) if ending and found else None
    if scale is None:
        return None
    values: dict[str, str] = {}

    def restore(match: re.Match[str]) -> str:
        values.setdefault(match.group(1), match.group(2))
        return "{{" + match.group(1) + "}}"

    return ReadBack(_TAGGED.sub(restore, body), values, scale)


def _read_scale(text: str) -> tuple[Rating, ...] | None:
    scale = []
    for line in text.strip("\n").splitlines() if text.strip() else []:
        found = _SCALE_LINE.match(line)
        if found is None:
            return None
        try:
            definition, value = json.loads(found.group(1)), json.loads(found.group(2))
        except ValueError:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        scale.append(Rating(str(definition), value if isinstance(value, str) else float(value)))
    return tuple(scale)


def _shown(rating: Rating) -> str:
    # Numbers as written (1, 0.5, -1); strings JSON-quoted, so "1" and 1 stay apart when read back.
    return rating.shown_value if isinstance(rating.value, float) else json.dumps(rating.value)


def _missing(
    values: Mapping[str, str], sources: Mapping[str, str], optional: tuple[str, ...] = ()
) -> tuple[str, ...]:
    return tuple(
        f"{name} ({sources[name]})" for name, value in values.items() if not value and name not in optional
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _content_text(value: object) -> str:
    """The text of ``{"content": [{"text": ...}, ...]}`` (a dict ``content`` too), blocks joined."""
    content = dig(value, "content")
    blocks = content if isinstance(content, list) else [content]
    return "\n".join(text for block in blocks if (text := _text(dig(block, "text"))))


def _passages(output: object) -> list[str]:
    """The retrieved passages' texts (``retrievedPassages`` or ``retrievedResults``)."""
    for key in ("retrievedPassages", "retrievedResults"):
        results = dig(output, key, "retrievalResults")
        if isinstance(results, list):
            return [text for result in results if (text := _text(dig(result, "content", "text")))]
    return []
