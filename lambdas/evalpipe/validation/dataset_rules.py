"""Rules for a dataset JSONL file, applied while streaming.

The scan (:func:`scan_dataset`) owns what every dataset shares: UTF-8, one JSON object per
line, blank lines, the record count. What a record must carry depends on the suite's
inferenceConfig (:class:`~evalpipe.suite.facts.DatasetKind`) and is a :class:`LineRules`
plug-in: precomputed model responses, prompts for a live model, RAG conversation turns.

Memory stays flat: lines are dropped once checked; only counters, a few line numbers and the
capped problem list survive.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from evalpipe.suite.facts import DatasetKind, JobKind, SuiteFacts, dig
from evalpipe.suite.metrics import CLASSIC_REFERENCE_METRICS, CLASSIC_REFERENCE_TASKS, MetricFamily
from evalpipe.validation.deployment import DEFAULT_MAX_RUN_RECORDS
from evalpipe.validation.problems import Problem, Report, Severity, json_type, show
from evalpipe.validation.strict_json import LONE_SURROGATE, parse_strict

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from evalpipe.dataset import RawLine

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


def scan_dataset(
    lines: Iterable[RawLine],
    file: str,
    rules: LineRules,
    max_listed: int = 50,
    max_records: int = DEFAULT_MAX_RUN_RECORDS,
) -> Report:
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
    max_records : int
        The largest dataset a run takes (the deployment's; larger than one job: it is sharded).

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
    if records > max_records:
        summary.append(
            _error(
                file,
                None,
                None,
                f"the dataset has {records} records; this deployment's runs take at most {max_records} "
                "(context maxRunRecords): split it into several files",
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
    if parsed.lone_surrogate_at is not None:
        yield _error(file, raw.number, parsed.lone_surrogate_at or None, LONE_SURROGATE)
        return
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


class HumanPrecomputedRules(PrecomputedModelRules):
    """Human jobs on precomputed responses: one response per model of the suite (one or two),
    in any order, each ``modelIdentifier`` one of the suite's ``inferenceSourceIdentifier`` values.
    """

    def __init__(self, file: str, facts: SuiteFacts) -> None:
        super().__init__(file, facts)
        self.identifiers = facts.precomputed_identifiers

    def check_responses(self, record: dict, line: int) -> Iterator[Problem]:
        responses = record.get("modelResponses")
        if not isinstance(responses, list) or len(self.identifiers) < 2:
            yield from super().check_responses(record, line)
            return
        if len(responses) != len(self.identifiers):
            yield self._error(
                line,
                "modelResponses",
                f"has {len(responses)} entries; this human job compares {len(self.identifiers)} models, so "
                f"give one response per model ({', '.join(show(i) for i in self.identifiers)})",
            )
        seen: set[str] = set()
        for k, entry in enumerate(responses):
            field = f"modelResponses[{k}]"
            if not isinstance(entry, dict):
                yield self._error(line, field, f"must be an object, not {json_type(entry)}")
                continue
            if not isinstance(entry.get("response"), str):
                yield self._error(
                    line, f"{field}.response", "missing or not a string; give the answer as text"
                )
            identifier = entry.get("modelIdentifier")
            if identifier not in self.identifiers:
                yield self._error(
                    line,
                    f"{field}.modelIdentifier",
                    f"{show(identifier)} is not one of the suite's inferenceSourceIdentifier values "
                    f"({', '.join(show(i) for i in self.identifiers)}); they must match exactly",
                )
            elif identifier in seen:
                yield self._error(line, f"{field}.modelIdentifier", f"{show(identifier)} appears twice")
            else:
                seen.add(identifier)


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


class ClassicRecordRules(LiveModelRules):
    """Prompts of a classic automated suite (Accuracy / Robustness / Toxicity, no judge model).

    As for any live suite: ``prompt``, optional ``category``, no ``modelResponses``. Besides, the
    user guide requires ``referenceResponse`` (the expected answer; for Classification the label)
    on every line when the dataset's entry lists Accuracy or Robustness, and on every line of a
    QuestionAndAnswer dataset ("Custom prompt dataset" requirements, see
    ``evalpipe.suite.metrics.CLASSIC_REFERENCE_METRICS``).
    """

    def __init__(self, file: str, facts: SuiteFacts) -> None:
        super().__init__(file, facts)
        entry = facts.custom_entry
        metrics = entry.metrics if entry is not None else ()
        self.task_type = entry.task_type if entry is not None else None
        needs = [m for m in metrics if m in CLASSIC_REFERENCE_METRICS]
        if self.task_type in CLASSIC_REFERENCE_TASKS:
            needs.append(f"the {self.task_type} task type")
        self.needs_reference = needs

    def check_responses(self, record: dict, line: int) -> Iterator[Problem]:
        yield from super().check_responses(record, line)
        reference = record.get("referenceResponse")
        if not self.needs_reference or (isinstance(reference, str) and reference.strip()):
            return
        if reference is not None and not isinstance(reference, str):
            return  # ModelRecordRules reports the type
        label = " (for Classification: the expected label)" if self.task_type == "Classification" else ""
        yield self._error(
            line,
            "referenceResponse",
            f"{'missing' if reference is None else 'is empty'}; {' and '.join(self.needs_reference)} "
            f"{'needs' if len(self.needs_reference) == 1 else 'need'} the expected answer on every line"
            f"{label}: give it, or drop the metrics that grade against it",
        )


MAX_RAG_TURNS = 5  # retrieve-and-generate conversations; retrieve-only takes exactly 1
RAG_IDENTIFIER = "inferenceConfig.ragConfigs[0].precomputedRagSourceConfig.*.ragSourceIdentifier"
PASSAGE_KEYS = ("retrievedPassages", "retrievedResults")  # the facts page's and the samples' spellings


class RagRules:
    """RAG records: ``conversationTurns``, one object per turn (see docs/suite-file.md).

    Retrieve-only suites (``retrieveSourceConfig``) take exactly one turn whose ``output``
    carries the retrieved passages; retrieve-and-generate suites take 1-5 turns whose
    ``output`` carries the generated ``text``. In a precomputed suite every turn's
    ``output.knowledgeBaseIdentifier`` must equal the suite's ``ragSourceIdentifier``.
    """

    def __init__(self, file: str, facts: SuiteFacts) -> None:
        self.file = file
        self.retrieve_only = facts.rag_family is MetricFamily.RAG_RETRIEVE
        self.generate = facts.rag_family is MetricFamily.RAG_RETRIEVE_AND_GENERATE
        self.identifier = facts.rag_source_identifier
        self.precomputed = facts.rag_source_identifier is not None
        self.reference_metrics = facts.reference_metrics
        self.no_reference = Tally()

    def check(self, record: dict, line: int) -> Iterator[Problem]:
        if "category" in record and not isinstance(record["category"], str):
            yield self._error(line, "category", f"must be a string, not {json_type(record['category'])}")
        turns = record.get("conversationTurns")
        if "conversationTurns" not in record:
            found = _near_miss(record, "conversationTurns")
            hint = f" (found {found!r}; keys are case-sensitive)" if found else ""
            yield self._error(
                line,
                "conversationTurns",
                'missing; a RAG record is {"conversationTurns": [{"prompt": {"content": '
                '[{"text": ...}]}, ...}]}' + hint,
            )
            return
        if not isinstance(turns, list):
            yield self._error(line, "conversationTurns", f"must be an array, not {json_type(turns)}")
            return
        limit = 1 if self.retrieve_only else MAX_RAG_TURNS
        if not turns or len(turns) > limit:
            allowed = (
                "a retrieve-only evaluation takes exactly 1 turn"
                if self.retrieve_only
                else f"a conversation takes 1 to {MAX_RAG_TURNS} turns"
            )
            yield self._error(line, "conversationTurns", f"has {len(turns)} turns; {allowed}")
            if not turns:
                return
        for number, turn in enumerate(turns):
            yield from self._turn(turn, f"conversationTurns[{number}]", line)

    def _turn(self, turn: object, path: str, line: int) -> Iterator[Problem]:
        if not isinstance(turn, dict):
            yield self._error(line, path, f"must be an object, not {json_type(turn)}")
            return
        prompt = _content_block_text(turn.get("prompt"))
        if not isinstance(prompt, str):
            yield self._error(
                line,
                f"{path}.prompt.content[0].text",
                f"{_problem_with(prompt)}; give the question as "
                '{"prompt": {"content": [{"text": "..."}]}}',
            )
        elif not prompt.strip():
            yield self._error(line, f"{path}.prompt.content[0].text", "is empty; give the user's question")
        yield from self._references(turn, path, line)
        yield from self._output(turn, path, line)

    def _references(self, turn: dict, path: str, line: int) -> Iterator[Problem]:
        references = turn.get("referenceResponses")
        if references is None:
            if self.reference_metrics:
                self.no_reference.add(line)
            return
        if not isinstance(references, list):
            yield self._error(
                line, f"{path}.referenceResponses", f"must be an array, not {json_type(references)}"
            )
            return
        for k, reference in enumerate(references):
            text = _content_block_text(reference)
            if not isinstance(text, str):
                yield self._error(
                    line,
                    f"{path}.referenceResponses[{k}].content[0].text",
                    f'{_problem_with(text)}; give {{"content": [{{"text": "..."}}]}}',
                )
        if self.reference_metrics and not any(
            isinstance(text := _content_block_text(r), str) and text.strip() for r in references
        ):
            self.no_reference.add(line)

    def _output(self, turn: dict, path: str, line: int) -> Iterator[Problem]:
        output = turn.get("output")
        where = f"{path}.output"
        if output is None:
            if self.precomputed:
                what = "retrieved passages" if self.retrieve_only else "generated text and citations"
                yield self._error(
                    line, where, f"missing; a precomputed RAG record carries the {what} of the turn"
                )
            return
        if not self.precomputed:
            yield self._error(
                line,
                where,
                "the suite evaluates a knowledge base live (knowledgeBaseConfig), which produces the output "
                "itself: remove output or use precomputedRagSourceConfig",
            )
            return
        if not isinstance(output, dict):
            yield self._error(line, where, f"must be an object, not {json_type(output)}")
            return
        text = output.get("text")
        if ("text" in output or self.generate) and not isinstance(text, str):
            problem = "missing" if "text" not in output else f"must be a string, not {json_type(text)}"
            yield self._error(line, f"{where}.text", f"{problem}; give the generated answer")
        yield from self._identifier(output, where, line)
        yield from self._passages(output, where, line)
        citations = output.get("citations")
        if "citations" in output and not isinstance(citations, list):
            yield self._error(line, f"{where}.citations", f"must be an array, not {json_type(citations)}")

    def _identifier(self, output: dict, where: str, line: int) -> Iterator[Problem]:
        field = f"{where}.knowledgeBaseIdentifier"
        identifier = output.get("knowledgeBaseIdentifier")
        if "knowledgeBaseIdentifier" not in output and self.retrieve_only:
            return  # the public retrieve-only samples sometimes leave it out
        if not isinstance(identifier, str) or not identifier:
            problem = (
                "missing"
                if "knowledgeBaseIdentifier" not in output
                else "is empty"
                if identifier == ""
                else f"must be a string, not {json_type(identifier)}"
            )
            yield self._error(line, field, f"{problem}; give the suite's {RAG_IDENTIFIER}")
        elif self.identifier is not None and identifier != self.identifier:
            yield self._error(
                line,
                field,
                f"{show(identifier)} differs from the suite's {RAG_IDENTIFIER} {show(self.identifier)}"
                f"{_near(identifier, self.identifier)}; they must match character for character",
            )

    def _passages(self, output: dict, where: str, line: int) -> Iterator[Problem]:
        keys = [key for key in PASSAGE_KEYS if key in output]
        if not keys:
            if self.retrieve_only:
                yield self._error(
                    line,
                    f"{where}.retrievedPassages",
                    'missing; give {"retrievalResults": [{"content": {"text": "..."}}]} '
                    "(spelled retrievedPassages or retrievedResults)",
                )
            return
        for key in keys:
            results = dig(output[key], "retrievalResults")
            field = f"{where}.{key}.retrievalResults"
            if not isinstance(results, list):
                yield self._error(line, field, f"must be an array, not {json_type(results)}")
                continue
            for k, result in enumerate(results):
                text = dig(result, "content", "text")
                if not isinstance(text, str):
                    problem = "missing" if text is None else f"must be a string, not {json_type(text)}"
                    yield self._error(
                        line, f"{field}[{k}].content.text", f"{problem}; give the passage's text"
                    )

    def finish(self, records: int) -> Iterator[Problem]:
        if self.no_reference.count:
            yield Problem(
                Severity.WARNING,
                self.file,
                f"{self.no_reference.count} of {records} records have turns without referenceResponses "
                f"({self.no_reference.where()}), but {', '.join(self.reference_metrics)} "
                f"{'grades' if len(self.reference_metrics) == 1 else 'grade'} against them: without a "
                "reference the judge relies on its own knowledge. Add reference responses, or drop "
                "those metrics",
                field="conversationTurns[*].referenceResponses",
            )

    def _error(self, line: int, field: str, message: str) -> Problem:
        return _error(self.file, line, field, message)


def _content_block_text(value: object) -> object:
    """``value.content[0].text`` (None when a step is missing or not of the right type)."""
    return dig(value, "content", 0, "text")


def _problem_with(text: object) -> str:
    return "missing" if text is None else f"must be a string, not {json_type(text)}"


def rules_for(facts: SuiteFacts | None, file: str) -> LineRules:
    """The record rules for the dataset kind the suite implies (precomputed without a suite)."""
    kind = facts.dataset_kind if facts else DatasetKind.PRECOMPUTED_MODEL
    if kind is DatasetKind.RAG and facts is not None:
        return RagRules(file, facts)
    if kind is DatasetKind.LIVE_MODEL:
        if facts is not None and facts.job_kind is JobKind.CLASSIC:
            return ClassicRecordRules(file, facts)
        return LiveModelRules(file, facts)
    if facts is not None and facts.has_human and not facts.has_automated:
        return HumanPrecomputedRules(file, facts)
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
