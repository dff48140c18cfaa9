"""Rules for a dataset JSONL file, applied while streaming.

The scan (:func:`scan_dataset`) owns what every dataset shares: UTF-8, one JSON object per
line, blank lines, the record count. What a record must carry depends on the suite's
inferenceConfig (:class:`~evalpipe.validation.facts.DatasetKind`) and is a :class:`LineRules`
plug-in: precomputed model responses, prompts for a live model, RAG conversation turns.

Memory stays flat: lines are dropped once checked; only counters, a few line numbers and the
capped problem list survive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Protocol

from evalpipe.dataset import RawLine
from evalpipe.validation.facts import DatasetKind, SuiteFacts
from evalpipe.validation.problems import Problem, Report, Severity, json_type, show
from evalpipe.validation.strict_json import parse_strict

MAX_RECORDS = 1000  # prompts per evaluation job
FIRST_LINES_SHOWN = 5
THINKING_TAG = re.compile(r"</?thinking\b", re.IGNORECASE)
RESPONSE_FIELD = "modelResponses[0].response"
IDENTIFIER_FIELD = "modelResponses[0].modelIdentifier"
SUITE_IDENTIFIER = "inferenceConfig.models[0].precomputedInferenceSource.inferenceSourceIdentifier"


class LineRules(Protocol):
    """What a record of one dataset kind must carry.

    ``check`` sees each record (a JSON object) once and keeps at most counters;
    ``finish`` reports what only the whole file shows (aggregated warnings).
    """

    def check(self, record: dict, line: int) -> Iterator[Problem]: ...

    def finish(self, records: int) -> Iterator[Problem]: ...


class Tally:
    """How many lines had one finding, and the first few of them."""

    def __init__(self) -> None:
        self.count = 0
        self.lines: list[int] = []

    def add(self, line: int) -> None:
        self.count += 1
        if len(self.lines) < FIRST_LINES_SHOWN:
            self.lines.append(line)

    def where(self) -> str:
        more = ", ..." if self.count > len(self.lines) else ""
        return f"line{'s' if self.count > 1 else ''} {', '.join(map(str, self.lines))}{more}"


def scan_dataset(lines: Iterable[RawLine], file: str, rules: LineRules, max_listed: int = 50) -> Report:
    """Check every line and the file as a whole.

    Parameters
    ----------
    lines : Iterable[RawLine]
        The file's lines (see :func:`evalpipe.dataset.iter_raw_lines`).
    file : str
        Named in every problem.
    rules : LineRules
        The record rules of the dataset's kind.
    max_listed : int
        Problems kept in the report (all are counted).

    Returns
    -------
    Report
        File-level problems first (they are few and decide the most), then line problems in
        line order.
    """
    line_report = Report(max_listed)
    records = 0
    for raw in lines:
        if not raw.data.strip():
            # An error, not a warning: Bedrock reads JSONL strictly, one record per line, and we
            # cannot confirm it skips an empty line; a job failing on one costs a run, while
            # deleting the line loses nothing.
            line_report.add(_error(file, raw.number, None, "blank line: delete it (every line is a record)"))
            continue
        records += 1
        for problem in _check_line(raw, file, rules):
            line_report.add(problem)

    summary: list[Problem] = []
    if records == 0:
        summary.append(_error(file, None, None, "the dataset has no records; put one JSON object per line"))
    if records > MAX_RECORDS:
        summary.append(
            _error(
                file,
                None,
                None,
                f"the dataset has {records} records; an evaluation job takes at most {MAX_RECORDS}: "
                "split it into several files",
            )
        )
    summary.extend(rules.finish(records))
    report = Report(max_listed)
    for problem in sorted(summary, key=lambda p: p.severity is not Severity.ERROR):
        report.add(problem)
    report.extend(line_report)
    return report


def _check_line(raw: RawLine, file: str, rules: LineRules) -> Iterator[Problem]:
    try:
        text = raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw.data[exc.start]
        hint = " (the file looks UTF-16 encoded)" if raw.data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        yield _error(
            file,
            raw.number,
            None,
            f"bytes that are not UTF-8 at byte offset {exc.start} of the line (0x{bad:02x}){hint}; "
            "save the file as UTF-8",
        )
        return
    parsed = parse_strict(text)
    if parsed.error is not None:
        hint = _json_hint(text, parsed.error)
        yield _error(file, raw.number, None, f"not valid JSON: {parsed.error}{hint}")
        return
    for key in parsed.duplicate_keys:
        yield _error(
            file, raw.number, None, f"key {key!r} appears twice in one object; readers keep one: remove one"
        )
    if not isinstance(parsed.value, dict):
        yield _error(
            file,
            raw.number,
            None,
            f"is a JSON {json_type(parsed.value)}, not an object: every line must be one record object",
        )
        return
    yield from rules.check(parsed.value, raw.number)


def _json_hint(text: str, error: str) -> str:
    if error.startswith("Extra data"):
        return " (two JSON values on one line? put each record on its own line)"
    if text.strip() in ("{", "[") or text.lstrip().startswith("["):
        return " (a JSON array or pretty-printed JSON? JSONL needs one complete object per line)"
    return "; each line must be one complete JSON object"


class ModelRecordRules:
    """Fields shared by model-evaluation records: prompt, referenceResponse, category."""

    # Optional fields a misspelling silently drops (a missing required field is an error anyway).
    optional_fields: tuple[str, ...] = ("referenceResponse", "category")

    def __init__(self, file: str, facts: SuiteFacts | None) -> None:
        self.file = file
        self.reference_metrics = facts.reference_metrics if facts else []
        self.no_reference = Tally()
        self.misspelled: dict[tuple[str, str], Tally] = {}  # (key found, field meant) -> lines

    def check(self, record: dict, line: int) -> Iterator[Problem]:
        prompt = record.get("prompt")
        if "prompt" not in record:
            found = self._found(record, "prompt")
            yield self._error(line, "prompt", f"missing; every record needs the user input{found}")
        elif not isinstance(prompt, str):
            yield self._error(line, "prompt", f"must be a string, not {json_type(prompt)}")
        elif not prompt.strip():
            yield self._error(line, "prompt", "is empty; give the user input the response answers")
        for field in self.optional_fields:
            if field in record and not isinstance(record[field], str):
                kind = json_type(record[field])
                yield self._error(line, field, f'must be a string, not {kind} (use "" or leave it out)')
        reference = record.get("referenceResponse")
        if self.reference_metrics and (reference is None or _blank(reference)):
            self.no_reference.add(line)
        self._tally_misspellings(record, line)
        yield from self.check_responses(record, line)

    def check_responses(self, record: dict, line: int) -> Iterator[Problem]:
        """The responses part of a record, which differs by dataset kind."""
        return iter(())

    def finish(self, records: int) -> Iterator[Problem]:
        if self.no_reference.count:
            yield Problem(
                Severity.WARNING,
                self.file,
                f"{self.no_reference.count} of {records} records have no referenceResponse "
                f"({self.no_reference.where()}), but {', '.join(self.reference_metrics)} "
                f"{'grades' if len(self.reference_metrics) == 1 else 'grade'} against it: "
                "without a reference the judge relies on its own knowledge. Add reference responses, "
                "or drop those metrics",
                field="referenceResponse",
            )
        for (key, meant), tally in self.misspelled.items():
            yield Problem(
                Severity.WARNING,
                self.file,
                f"key {key!r} ({tally.count} {_records(tally.count)}: {tally.where()}) is not a field "
                f"Bedrock reads; did you mean {meant!r}? (keys are case-sensitive)",
                field=key,
            )

    def _tally_misspellings(self, record: dict, line: int) -> None:
        for field in self.optional_fields:
            if field in record:
                continue
            found = _near_miss(record, field)
            if found is not None and (len(self.misspelled) < 20 or (found, field) in self.misspelled):
                self.misspelled.setdefault((found, field), Tally()).add(line)

    def _found(self, record: dict, field: str) -> str:
        found = _near_miss(record, field)
        return f" (found {found!r}; keys are case-sensitive)" if found else ""

    def _error(self, line: int, field: str, message: str) -> Problem:
        return _error(self.file, line, field, message)


class PrecomputedModelRules(ModelRecordRules):
    """Records carrying the response to grade (``precomputedInferenceSource`` suites)."""

    def __init__(self, file: str, facts: SuiteFacts | None) -> None:
        super().__init__(file, facts)
        self.expected_identifier = facts.precomputed_identifier if facts else None
        self.first_identifier: tuple[int, str] | None = None  # (line, identifier) when no suite says
        self.thinking = Tally()

    def check_responses(self, record: dict, line: int) -> Iterator[Problem]:
        responses = record.get("modelResponses")
        if "modelResponses" not in record:
            yield self._error(
                line,
                "modelResponses",
                'missing; give [{"response": "...", "modelIdentifier": "..."}]'
                + self._found(record, "modelResponses"),
            )
            return
        if not isinstance(responses, list):
            yield self._error(line, "modelResponses", f"must be an array, not {json_type(responses)}")
            return
        if len(responses) != 1:
            yield self._error(
                line,
                "modelResponses",
                f"has {len(responses)} entries; a precomputed job takes exactly one response per prompt",
            )
            if not responses:
                return
        entry = responses[0]
        if not isinstance(entry, dict):
            yield self._error(line, "modelResponses[0]", f"must be an object, not {json_type(entry)}")
            return
        response = entry.get("response")
        if not isinstance(response, str):
            problem = "missing" if "response" not in entry else f"must be a string, not {json_type(response)}"
            yield self._error(line, RESPONSE_FIELD, f"{problem}; give the model's answer as text")
        elif THINKING_TAG.search(response):
            self.thinking.add(line)
        yield from self._identifier(entry, line)

    def _identifier(self, entry: dict, line: int) -> Iterator[Problem]:
        identifier = entry.get("modelIdentifier")
        if not isinstance(identifier, str) or not identifier:
            problem = (
                "missing"
                if "modelIdentifier" not in entry
                else "is empty"
                if identifier == ""
                else f"must be a string, not {json_type(identifier)}"
            )
            yield self._error(line, IDENTIFIER_FIELD, f"{problem}; give the suite's {SUITE_IDENTIFIER}")
            return
        if self.expected_identifier is not None:
            if identifier != self.expected_identifier:
                yield self._error(
                    line,
                    IDENTIFIER_FIELD,
                    f"{show(identifier)} differs from the suite's {SUITE_IDENTIFIER} "
                    f"{show(self.expected_identifier)}{_near(identifier, self.expected_identifier)}; "
                    "they must match character for character",
                )
        elif self.first_identifier is None:
            self.first_identifier = (line, identifier)
        elif identifier != self.first_identifier[1]:
            first_line, first = self.first_identifier
            yield self._error(
                line,
                IDENTIFIER_FIELD,
                f"{show(identifier)} differs from line {first_line}'s {show(first)}"
                f"{_near(identifier, first)}; one job grades one identifier: use the same on every line",
            )

    def finish(self, records: int) -> Iterator[Problem]:
        yield from super().finish(records)
        if self.thinking.count:
            yield Problem(
                Severity.WARNING,
                self.file,
                f"the responses of {self.thinking.count} {_records(self.thinking.count)} contain <thinking> "
                f"blocks ({self.thinking.where()}); the "
                "judge grades them as part of the answer: strip reasoning before writing the dataset",
                field=RESPONSE_FIELD,
            )


class LiveModelRules(ModelRecordRules):
    """Prompts only: a Bedrock model (``bedrockModel``) generates the responses during the job."""

    def check_responses(self, record: dict, line: int) -> Iterator[Problem]:
        if "modelResponses" in record:
            yield self._error(
                line,
                "modelResponses",
                "the suite runs a Bedrock model live (inferenceConfig.models[0].bedrockModel), which writes "
                "the responses itself: remove modelResponses or use precomputedInferenceSource (a suite "
                "that grades the responses the records carry)",
            )


class RagRules:
    """RAG records (``conversationTurns``): per-line rules are not written yet."""

    def __init__(self, file: str) -> None:
        self.file = file

    def check(self, record: dict, line: int) -> Iterator[Problem]:
        return iter(())

    def finish(self, records: int) -> Iterator[Problem]:
        yield Problem(
            Severity.WARNING,
            self.file,
            "RAG records (conversationTurns) are not checked field by field yet: only UTF-8, one JSON "
            "object per line and the record count were checked",
        )


def rules_for(facts: SuiteFacts | None, file: str) -> LineRules:
    """The record rules for the dataset kind the suite implies (precomputed without a suite)."""
    kind = facts.dataset_kind if facts else DatasetKind.PRECOMPUTED_MODEL
    if kind is DatasetKind.RAG:
        return RagRules(file)
    if kind is DatasetKind.LIVE_MODEL:
        return LiveModelRules(file, facts)
    return PrecomputedModelRules(file, facts)


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _records(count: int) -> str:
    return "record" if count == 1 else "records"


def _normal(key: str) -> str:
    return key.replace("_", "").replace("-", "").replace(" ", "").casefold()


def _near_miss(record: dict, field: str) -> str | None:
    """A key of ``record`` that is ``field`` spelled differently (case, ``_``, ``-``), if any."""
    wanted = _normal(field)
    found = (key for key in record if isinstance(key, str) and key != field and _normal(key) == wanted)
    return next(found, None)


def _near(actual: str, expected: str) -> str:
    if actual.strip().casefold() == expected.strip().casefold():
        return " (they differ only in case or surrounding whitespace)"
    return ""


def _error(file: str, line: int | None, field: str | None, message: str) -> Problem:
    return Problem(Severity.ERROR, file, message, line=line, field=field)
