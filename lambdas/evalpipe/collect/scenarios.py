"""The scenarios file: the conversations to have with the app, one per scenario.

Its JSON Schema, ``schema/scenarios.schema.json``, is generated from these models
(:func:`render_schema`; tests/unit/collect/test_scenarios.py keeps it current).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from evalpipe.collect.errors import InputError, describe_validation_error
from evalpipe.validation.strict_json import parse_strict

__all__ = ["Scenario", "ScenariosFile", "load_scenarios", "render_schema"]

# No "#": a record of one turn (--each-turn) is "<id>#<turn>"; 120 leaves room for it within the
# 128 characters a record id keeps whole (evalpipe.history.keys).
SCENARIO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,119}$"
# Converse's ToolSpecification name.
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
MAX_TURNS = 50

UserTurn = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
ToolName = Annotated[str, StringConstraints(pattern=TOOL_NAME_PATTERN)]


class Scenario(BaseModel):
    """One conversation with the app: the user's turns, in order, and what it should lead to."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    id: str = Field(
        pattern=SCENARIO_ID_PATTERN,
        description=(
            "Stable id: the record's id in the dataset (runs are compared record by record on it) and "
            "what --resume skips. Letters, digits and . _ : / @ + = -, at most 120 characters."
        ),
        examples=["cancel-order-confirmed"],
    )
    category: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="The record's category: results are broken down by it.", examples=["orders"]
    )
    turns: list[UserTurn] = Field(
        min_length=1,
        max_length=MAX_TURNS,
        description=(
            "The user's messages, in order. Each is sent with the conversation so far; the record's "
            "prompt is the conversation up to the last turn and its response the answer to it."
        ),
    )
    reference_response: str | None = Field(
        default=None,
        alias="referenceResponse",
        description=(
            "The ideal answer to the last turn (the record's referenceResponse, {{ground_truth}} of "
            "custom metrics; Builtin.Correctness and Builtin.Completeness grade against it)."
        ),
    )
    tool_results: dict[ToolName, dict[str, Any] | str] = Field(
        default_factory=dict,
        alias="toolResults",
        description=(
            "Canned results by tool name for a Bedrock target with a toolConfig: whenever the model "
            "calls the tool, this is fed back (an object as a json block, a string as a text block). "
            "A call to a tool not listed fails the scenario."
        ),
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Session data the app needs (user id, locale, ...): HTTP and Lambda templates send it as "
            "{{context}} or {{context.<key>}}."
        ),
    )
    description: str | None = Field(default=None, description="What the scenario tests (not sent).")


class ScenariosFile(BaseModel):
    """A scenarios file: the conversations evalpipe collect has with the app under test."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    schema_: str | None = Field(default=None, alias="$schema", description="Editors' pointer to this schema.")
    description: str | None = Field(default=None, description="What the scenarios cover.")
    scenarios: list[Scenario] = Field(min_length=1, description="The scenarios; ids are unique.")

    @field_validator("scenarios")
    @classmethod
    def _unique_ids(cls, scenarios: list[Scenario]) -> list[Scenario]:
        counts = Counter(scenario.id for scenario in scenarios)
        twice = sorted(identifier for identifier, count in counts.items() if count > 1)
        if twice:
            raise ValueError(f"scenario ids must be unique; repeated: {', '.join(twice)}")
        return scenarios


# The largest scenarios file the pipeline reads (a file of thousands of scenarios stays below).
MAX_SCENARIOS_BYTES = 10_000_000


def load_scenarios(data: bytes, source: str) -> list[Scenario]:
    """Read a scenarios file: ``{"scenarios": [...]}``, or the guide's bare array of scenarios.

    Raises
    ------
    InputError
        Not UTF-8, not strict JSON (a duplicated key included), or not the file's shape.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            source, [f"bytes that are not UTF-8 at byte offset {exc.start}"], whole_file=True
        ) from None
    parsed = parse_strict(text)
    if parsed.error is not None:
        raise InputError(source, [f"not valid JSON: {parsed.error}"], whole_file=True, line=parsed.line)
    if parsed.duplicate_keys:
        raise InputError(
            source,
            [f"key(s) {', '.join(map(repr, parsed.duplicate_keys))} appear twice in one object"],
            whole_file=True,
        )
    document = {"scenarios": parsed.value} if isinstance(parsed.value, list) else parsed.value
    try:
        return ScenariosFile.model_validate(document).scenarios
    except ValidationError as error:
        raise InputError(source, describe_validation_error(error)) from None


DRAFT = "https://json-schema.org/draft/2020-12/schema"


def build_schema() -> dict[str, Any]:
    """The JSON Schema of a scenarios file (draft 2020-12, the file's camelCase keys)."""
    generated = ScenariosFile.model_json_schema(by_alias=True, mode="validation")
    _tidy(generated)
    description = generated.pop("description", "")
    generated.pop("title", None)
    return {
        "$schema": DRAFT,
        "title": "evalpipe scenarios file",
        "description": f"{description} See docs/collect.md.",
        **generated,
    }


def render_schema() -> str:
    """The exact text of schema/scenarios.schema.json (2-space indent, trailing newline)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def _tidy(schema: Any) -> None:
    """Drop per-property titles (they repeat the key); docstrings to one plain paragraph."""
    if isinstance(schema, list):
        for item in schema:
            _tidy(item)
        return
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("description"), str):
        schema["description"] = re.sub(r"\s+", " ", schema["description"].split("\n\n", 1)[0]).strip()
    for prop in (schema.get("properties") or {}).values():
        prop.pop("title", None)
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties"):
            _tidy(list(value.values()))
        elif key not in ("examples", "default", "enum", "const"):
            _tidy(value)
