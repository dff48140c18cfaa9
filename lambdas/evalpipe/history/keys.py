"""Record keys: which record of one run is "the same record" in another run.

A record's key is its dataset line's explicit ``id`` when it has one, else a content hash of
the exact prompt text and the record's category. The parse step stores it on every record
item as ``record_key`` (docs/design.md); record items written before that carry
``prompt_hash`` and ``category``, from which :func:`key_of_item` derives the very same key, so
old and new runs compare with each other.

Key formats (stable: changing them breaks the matching of every stored run)::

    id:<explicit id>              the line's "id" (a string or an integer), up to 128 characters
    idh:<sha256(id)[:32]>         a longer explicit id
    h:<sha256(prompt_hash + "\\x1f" + category)[:32]>
                                  prompt_hash = sha256(prompt)[:16] hex (RecordResult.prompt_hash),
                                  category = the resolved category ("uncategorized" when none)
    <Builtin.X>/<one of the above>
                                  a record of a built-in prompt dataset (Builtin.BoolQ, ...): a job
                                  with several datasetMetricConfigs entries may hold the same
                                  prompt (or id) in two datasets, which are different records

Only built-in datasets qualify the key: the custom dataset's name follows the dropped file's
name (``nightly-0412.jsonl``) and changes from run to run, while a suite has at most one
custom entry, so its records need no qualifier (and keep matching runs stored before).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from evalpipe.run.model import UNCATEGORIZED
from evalpipe.suite.keys import BUILTIN_PREFIX

if TYPE_CHECKING:
    from evalpipe.results import RecordResult
    from evalpipe.run.model import RecordItem

ID_FIELD = "id"
MAX_ID_CHARS = 128
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot be confused with text in a category


def prompt_hash(prompt: str) -> str:
    """First 16 hex digits of the prompt's SHA-256 (the same as ``RecordResult.prompt_hash``)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def record_key(prompt: str, category: str | None, explicit_id: str | int | None = None) -> str:
    """The key that matches a record across runs of a suite.

    Parameters
    ----------
    prompt
        The record's prompt, exactly (any edit makes it a different record).
    category
        The record's resolved category; ``None`` or ``""`` counts as ``uncategorized``.
    explicit_id
        The dataset line's ``id``, if any. It wins over the content: the key is then the same
        whatever the prompt and category. Blank strings and booleans are ignored.

    Returns
    -------
    str
        ``id:<id>``, ``idh:<hash>`` or ``h:<hash>`` (see the module docstring).

    Examples
    --------
    >>> record_key("hello", "greeting") == record_key("hello", "greeting")
    True
    >>> record_key("hello", "greeting") == record_key("hello", "other")
    False
    >>> record_key("hello", "greeting", explicit_id=42)
    'id:42'
    """
    identifier = normalize_id(explicit_id)
    if identifier is not None:
        if len(identifier) <= MAX_ID_CHARS:
            return f"id:{identifier}"
        return "idh:" + hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32]
    return content_key(prompt_hash(prompt), category)


def content_key(prompt_hash_hex: str, category: str | None) -> str:
    """The content key from a stored ``prompt_hash`` and category (see :func:`record_key`)."""
    text = f"{prompt_hash_hex}{_SEPARATOR}{category or UNCATEGORIZED}"
    return "h:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def normalize_id(value: object) -> str | None:
    """An explicit id as text, or None when it is absent or unusable (blank, bool, not str/int)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def explicit_id_of(record: RecordResult) -> str | None:
    """The dataset line's ``id`` as Bedrock copied it into the output line, if any.

    `evalpipe.results.parse_output_line` keeps unknown input fields in
    ``extra["inputRecord"]`` (or in ``extra`` when the line has no ``inputRecord``).
    """
    extra = record.extra or {}
    input_record = extra.get("inputRecord")
    if isinstance(input_record, Mapping) and ID_FIELD in input_record:
        return normalize_id(input_record[ID_FIELD])
    return normalize_id(extra.get(ID_FIELD))


def key_of_record(record: RecordResult, explicit_id: str | int | None = None) -> str:
    """:func:`record_key` of a parsed record; ``explicit_id`` overrides the one in the output.

    A record of a built-in dataset (``record.dataset`` = ``Builtin.<X>``) gets the dataset in
    front (:func:`dataset_key`). Call it after `evalpipe.results.resolve_category`, so the key
    uses the final category.

    Examples
    --------
    >>> plain = RecordResult(0, "hi", None, None, "c", [])
    >>> boolq = RecordResult(0, "hi", None, None, "c", [], dataset="Builtin.BoolQ")
    >>> key_of_record(boolq) == "Builtin.BoolQ/" + key_of_record(plain)
    True
    """
    identifier = explicit_id if normalize_id(explicit_id) is not None else explicit_id_of(record)
    return dataset_key(record.dataset, record_key(record.prompt, record.category, identifier))


def dataset_key(dataset: str | None, key: str) -> str:
    """``key`` qualified by a built-in dataset's name; unchanged for any other dataset.

    Examples
    --------
    >>> dataset_key("Builtin.TriviaQA", "id:7"), dataset_key("nightly-0412", "id:7")
    ('Builtin.TriviaQA/id:7', 'id:7')
    """
    return f"{dataset}/{key}" if dataset and dataset.startswith(BUILTIN_PREFIX) else key


def key_of_item(item: RecordItem) -> str | None:
    """The key of a stored record item: its ``record_key``, else derived from ``prompt_hash``.

    Returns None when the item has neither (it cannot be matched).
    """
    return stored_key(item.record_key, item.prompt_hash, item.category)


def stored_key(record_key: str | None, prompt_hash: str | None, category: str | None) -> str | None:
    """The key of a stored record from its attributes (`key_of_item`; `RunsTable.iter_record_scores`)."""
    if record_key:
        return record_key
    if prompt_hash:
        return content_key(prompt_hash, category)
    return None
