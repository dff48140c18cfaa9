"""Write schema/suite.schema.json from the suite model (``evalpipe.suite.SuiteDocument``).

Usage::

    python scripts/generate_schema.py          # (re)write the schema
    python scripts/generate_schema.py --check  # exit 1 when the committed schema is stale

The schema is checked in so editors can validate suite files (``"$schema"`` in the file);
tests/unit/test_suite.py fails when it no longer matches the model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schema" / "suite.schema.json"
if str(ROOT / "lambdas") not in sys.path:  # run as a script: the domain lives under lambdas/
    sys.path.insert(0, str(ROOT / "lambdas"))

from evalpipe.suite import SuiteDocument  # noqa: E402

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DESCRIPTION = (
    "A suite: what to grade (the CreateEvaluationJob members applicationType, evaluationConfig "
    "and inferenceConfig) and how the pipeline judges the run (pipeline). Stored at "
    "suites/<suite>.json; every dataset under datasets/<suite>/ runs against it. "
    "See docs/suite-file.md."
)


def build_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file.

    Returns
    -------
    dict
        Draft 2020-12 schema with the file's camelCase keys; descriptions are the models'
        first docstring paragraphs and per-property titles are dropped (they only repeat
        the key).
    """
    generated = SuiteDocument.model_json_schema(by_alias=True, mode="validation")
    _tidy(generated)
    generated.pop("title", None)
    generated.pop("description", None)
    return {"$schema": DRAFT, "title": "evalpipe suite file", "description": DESCRIPTION, **generated}


def render_schema() -> str:
    """The schema file's exact text (2-space indent, trailing newline)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema, or with ``--check`` report whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed schema is stale")
    args = parser.parse_args(argv)
    text = render_schema()
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH.relative_to(ROOT)} is stale: run python scripts/generate_schema.py")
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


_SCHEMA_MAPS = ("$defs", "properties", "patternProperties")
_SCHEMA_VALUES = ("items", "additionalProperties", "propertyNames", "not")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _tidy(schema: Any) -> None:
    """Drop per-property titles; shorten docstring descriptions to a plain first paragraph."""
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("description"), str):
        first_paragraph = schema["description"].split("\n\n", 1)[0]
        schema["description"] = re.sub(r"``([^`]+)``", r"\1", " ".join(first_paragraph.split()))
    for prop in (schema.get("properties") or {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    # Walk keywords that hold schemas only, so a property called "description" stays a schema.
    for keyword in _SCHEMA_MAPS:
        for child in (schema.get(keyword) or {}).values():
            _tidy(child)
    for keyword in _SCHEMA_VALUES:
        _tidy(schema.get(keyword))
    for keyword in _SCHEMA_LISTS:
        for child in schema.get(keyword) or []:
            _tidy(child)


if __name__ == "__main__":
    sys.exit(main())
