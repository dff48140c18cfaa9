"""From a played scenario to dataset lines: the record the suite grades, checked by the
pipeline's own dataset rules, and the metadata kept beside it.

A scenario gives one record by default: the prompt is the conversation up to the user's last
turn (:func:`~evalpipe.collect.conversation.format_prompt`), the response the app's answer to
it, the id the scenario's id. With ``each_turn`` it gives one record per turn instead (the
practitioner's guide's layout), with ids ``<id>#<turn>`` (1-based); the scenario's
referenceResponse goes on the last one only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalpipe.collect.conversation import Message, Reply, format_prompt
from evalpipe.validation import Severity, validate_dataset

if TYPE_CHECKING:
    from collections.abc import Iterable

    from evalpipe.collect.scenarios import Scenario

__all__ = ["Exchange", "RecordCheck", "Resume", "build_lines", "collected_ids", "meta_path_for"]

TURN_SEPARATOR = "#"


@dataclass(frozen=True)
class Exchange:
    """One user turn and the app's answer (reasoning stripped), with what the call cost."""

    user: str
    answer: str
    reply: Reply


@dataclass(frozen=True)
class RecordLine:
    """A dataset line ready to write, with its metadata line."""

    record_id: str
    text: str
    meta: dict[str, Any]


def build_lines(
    scenario: Scenario, exchanges: list[Exchange], identifier: str, *, each_turn: bool
) -> list[RecordLine]:
    """The dataset lines of a played scenario (see the module docstring)."""
    messages: list[Message] = []
    lines = []
    last = len(exchanges) - 1
    for turn, exchange in enumerate(exchanges):
        messages.append(Message("user", exchange.user))
        if each_turn or turn == last:
            record_id = f"{scenario.id}{TURN_SEPARATOR}{turn + 1}" if each_turn else scenario.id
            costed = [exchange] if each_turn else exchanges
            record = _record(
                record_id,
                scenario,
                format_prompt(messages),
                exchange.answer,
                identifier=identifier,
                last=turn == last,
            )
            lines.append(
                RecordLine(record_id, _dumps(record), _meta(record_id, scenario.id, costed, turn + 1))
            )
        messages.append(Message("assistant", exchange.answer))
    return lines


def _record(
    record_id: str, scenario: Scenario, prompt: str, answer: str, *, identifier: str, last: bool
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": record_id, "prompt": prompt}
    if last and scenario.reference_response is not None:
        record["referenceResponse"] = scenario.reference_response
    record["category"] = scenario.category
    record["modelResponses"] = [{"response": answer, "modelIdentifier": identifier}]
    return record


def _meta(record_id: str, scenario_id: str, exchanges: list[Exchange], turns: int) -> dict[str, Any]:
    replies = [exchange.reply for exchange in exchanges]
    return {
        "id": record_id,
        "scenarioId": scenario_id,
        "status": "collected",
        "turns": turns,
        "latencyMs": sum(reply.latency_ms for reply in replies),
        "inputTokens": _total(reply.input_tokens for reply in replies),
        "outputTokens": _total(reply.output_tokens for reply in replies),
        "toolCalls": sum(reply.tool_calls for reply in replies),
    }


def failure_meta(scenario_id: str, error: str) -> dict[str, Any]:
    """The metadata line of a scenario that failed for good (it has no dataset line)."""
    return {"id": scenario_id, "scenarioId": scenario_id, "status": "failed", "error": error}


def _total(values: Iterable[int | None]) -> int | None:
    counted = list(values)
    return None if any(value is None for value in counted) else sum(v for v in counted if v is not None)


def _dumps(record: dict[str, Any]) -> str:
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in an answer: escaped, the dataset rules reject it
        text = json.dumps(record)
    return text


class RecordCheck:
    """The pipeline's dataset rules (:mod:`evalpipe.validation`) applied to one line at a time.

    Parameters
    ----------
    suite : object or None
        The parsed suite: its rules and ``inferenceSourceIdentifier`` apply. Without one,
        lines are checked as precomputed model responses.
    file : str
        The dataset as problems name it.
    """

    def __init__(self, suite: object | None, file: str) -> None:
        self.suite = suite
        self.file = file

    def errors(self, line: str) -> list[str]:
        """``"<field>: <message>"`` for every error the rules find in the line (warnings aside)."""
        report = validate_dataset([line.encode("utf-8") + b"\n"], self.file, suite=self.suite, max_listed=10)
        return [
            f"{problem.field}: {problem.message}" if problem.field else problem.message
            for problem in report.problems
            if problem.severity is Severity.ERROR
        ]


@dataclass(frozen=True)
class Resume:
    """What an existing dataset already holds.

    Attributes
    ----------
    scenario_ids : frozenset[str]
        Scenarios with at least one complete line (their lines are written together).
    keep_bytes : int
        Length of the file's complete lines; a last line without its newline (the process was
        killed while writing) is cut off here.
    lines : int
        Complete lines.
    """

    scenario_ids: frozenset[str]
    keep_bytes: int
    lines: int


def collected_ids(data: bytes) -> Resume:
    """Read an existing dataset for ``--resume`` (lines that are not records with an id are kept
    and ignored)."""
    keep = data.rfind(b"\n") + 1
    ids = set()
    complete = data[:keep].splitlines()
    for raw in complete:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        identifier = record.get("id") if isinstance(record, dict) else None
        if isinstance(identifier, str):
            ids.add(identifier.split(TURN_SEPARATOR, 1)[0])
    return Resume(frozenset(ids), keep, len(complete))


def meta_path_for(dataset: str) -> str:
    """``out.jsonl`` -> ``out.meta.jsonl`` (any other name gets ``.meta.jsonl`` appended)."""
    return dataset.removesuffix(".jsonl") + ".meta.jsonl"
