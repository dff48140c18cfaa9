"""Built-in prompt datasets (``dataset.name`` = ``Builtin.<X>`` without ``datasetLocation``).

The service resolves these names to its own copies of public datasets (100 prompts each, says
the user guide). The emulator has no such copies and must not pretend to: it resolves each name
to a **small, made-up sample** shipped in ``data/builtin_datasets.json`` -- a handful of
records in the dataset's shape (prompt, referenceResponse where the original has answers,
category), clearly labelled synthetic there and in docs/local-bedrock-emulator.md. Scores on
them say whether the pipeline moves classic results correctly, nothing about a model.

Names and task types follow the user guide's table "Available built-in datasets for automatic
model evaluation jobs" (https://docs.aws.amazon.com/bedrock/latest/userguide/model-evaluation-tasks.html)
and the API reference's list of ``EvaluationDataset.name`` values. The API reference spells
TriviaQA both ``Builtin.TriviaQA`` and ``Builtin.TriviaQa``; both resolve here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

BUILTIN_DATASET_PREFIX = "Builtin."
DATA_FILE = Path(__file__).resolve().parent / "data" / "builtin_datasets.json"
# Other spellings found in AWS documents -> the name the sample file uses.
ALIASES = {"Builtin.TriviaQa": "Builtin.TriviaQA"}


class UnknownBuiltinDataset(LookupError):
    """A ``Builtin.*`` dataset name the service does not offer."""


@cache
def _catalogue() -> dict[str, dict[str, Any]]:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return document["datasets"]


def is_builtin_dataset(name: str) -> bool:
    """True for a name in the reserved ``Builtin.`` namespace (known or not)."""
    return name.startswith(BUILTIN_DATASET_PREFIX)


def canonical_name(name: str) -> str:
    """The sample's spelling of a built-in dataset name.

    Raises
    ------
    UnknownBuiltinDataset
        When the service offers no dataset of that name.

    Examples
    --------
    >>> canonical_name("Builtin.TriviaQa")
    'Builtin.TriviaQA'
    """
    resolved = ALIASES.get(name, name)
    if resolved not in _catalogue():
        known = ", ".join(sorted(_catalogue()))
        raise UnknownBuiltinDataset(f"{name} is not a built-in prompt dataset (known: {known}).")
    return resolved


def builtin_names() -> list[str]:
    """Every built-in dataset name the emulator resolves, sorted."""
    return sorted(_catalogue())


def task_type_of(name: str) -> str:
    """The task type the user guide lists the dataset under (``QuestionAndAnswer``, ...)."""
    return str(_catalogue()[canonical_name(name)]["taskType"])


def builtin_records(name: str) -> list[dict[str, Any]]:
    """The synthetic sample of a built-in dataset: fresh copies of its records, in file order.

    Examples
    --------
    >>> records = builtin_records("Builtin.BoolQ")
    >>> len(records) >= 3, sorted(records[0])
    (True, ['category', 'prompt', 'referenceResponse'])
    """
    return [dict(record) for record in _catalogue()[canonical_name(name)]["records"]]
