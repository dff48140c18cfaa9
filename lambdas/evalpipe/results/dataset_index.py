"""The category join: Bedrock does not always copy a dataset line's ``category`` into the output, so
`CategoryIndex` reads the dataset once and `resolve_category` gives each record its own category,
else the dataset's (looked up by prompt and response, in dataset order), else `UNCATEGORIZED`.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING

from evalpipe.results.fields import (
    _category_of,
    _content_text,
    _numbered,
    _prompt_of,
    _response_of,
    _turns,
)
from evalpipe.run.model import UNCATEGORIZED

if TYPE_CHECKING:
    from collections.abc import Iterable

    from evalpipe.dataset import RawLine
    from evalpipe.results.records import RecordResult


class CategoryIndex:
    """Categories of the dataset's lines, to join back onto output records that lack them.

    Bedrock copies the input line into the output, but not always every field, so the parse step
    reads the dataset once and looks records up by (prompt, response). The same pair may occur
    several times with different categories: each key holds a queue consumed in dataset order
    (the output preserves it), and the last category is kept for any surplus lookups. Records
    whose response the dataset does not carry (live inference) are found by prompt alone.
    """

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str | None], deque[str | None]] = {}
        self._by_prompt: dict[str, deque[str | None]] = {}

    @classmethod
    def from_dataset_lines(cls, lines: Iterable[bytes | str | RawLine]) -> CategoryIndex:
        """Index the dataset's lines; unreadable lines are skipped (validation reports them).

        Parameters
        ----------
        lines
            The dataset's lines: bytes (or str), or numbered `RawLine`s.

        Returns
        -------
        CategoryIndex
            The index (empty if no line parses).
        """
        index = cls()
        for position, line in enumerate(lines, start=1):
            _, data = _numbered(line, position)
            if not data.strip():
                continue
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                continue
            if isinstance(obj, dict) and _turns(obj):
                # RAG: output records are per turn, so index every turn under the line's category.
                for turn in _turns(obj):
                    prompt = _content_text(turn.get("prompt")) or ""
                    index.add(prompt, _content_text(turn.get("output")), _category_of(obj))
            elif isinstance(obj, dict):
                response, _ = _response_of(obj, obj)
                index.add(_prompt_of(obj), response, _category_of(obj))
        return index

    def add(self, prompt: str, response: str | None, category: str | None) -> None:
        """Remember one dataset line's category (None is kept so duplicates stay aligned)."""
        self._by_pair.setdefault((prompt, response), deque()).append(category)
        self._by_prompt.setdefault(prompt, deque()).append(category)

    def category_for(self, prompt: str, response: str | None) -> str | None:
        """The category of the next dataset line with this prompt (and response), or None."""
        queue = self._by_pair.get((prompt, response))
        if queue is None:
            queue = self._by_prompt.get(prompt)
        if not queue:
            return None
        # Consume in order, but keep the last one: a surplus duplicate gets the same category.
        return queue.popleft() if len(queue) > 1 else queue[0]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._by_prompt.values())


def resolve_category(record: RecordResult, index: CategoryIndex | None = None) -> str:
    """Fill in `record.category`: its own, else the dataset's, else `uncategorized`.

    Parameters
    ----------
    record
        The record; its `category` is set in place.
    index
        The dataset's categories, if the parse step read them.

    Returns
    -------
    str
        The category now on the record.
    """
    if not record.category:
        found = index.category_for(record.prompt, record.response) if index is not None else None
        record.category = found or UNCATEGORIZED
    return record.category
