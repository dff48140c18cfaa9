"""What goes to an HTTP or Lambda app and what comes back: body templates and JSONPath.

A template is any JSON value. A string that is exactly one placeholder (``"{{messages}}"``)
becomes the variable's JSON value; a placeholder inside a longer string is replaced by its text
(non-text values as JSON). Variables:

==================  ==========================================================================
``messages``        ``[{"role": "user"|"assistant", "content": "..."}]``, the conversation so far
``message``         the user's latest turn (text)
``transcript``      the conversation as the record's prompt shows it (``User: ...`` lines)
``scenarioId``      the scenario's id
``context``         the scenario's ``context`` object; ``context.a.b`` reaches inside it
==================  ==========================================================================

Answers are found with JSONPath (the ``jsonpath-ng`` library, its extended syntax: ``$.a.b``,
``$.choices[0].message.content``, filters such as ``$.items[?(@.role == 'assistant')].text``);
the first match is used.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from evalpipe.collect.conversation import format_prompt

if TYPE_CHECKING:
    from collections.abc import Iterator

    from evalpipe.collect.conversation import Conversation

__all__ = [
    "VARIABLES",
    "AnswerNotFound",
    "TemplateError",
    "answer_at",
    "check_path",
    "check_template",
    "render_template",
    "tokens_at",
]

VARIABLES = ("messages", "message", "transcript", "scenarioId", "context")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}")
EXCERPT_CHARS = 300


class TemplateError(ValueError):
    """A template names a variable that does not exist or a context key the scenario lacks."""


class AnswerNotFound(ValueError):
    """The app's response has no text where the target's JSONPath points."""


def check_template(template: Any) -> list[str]:
    """The unknown variables a template names (empty when it is fine)."""
    unknown = []
    for name in _placeholders(template):
        if name.split(".", 1)[0] not in VARIABLES:
            unknown.append(name)
    return unknown


def render_template(template: Any, conversation: Conversation) -> Any:
    """The template with every placeholder replaced for ``conversation`` (a new value).

    Raises
    ------
    TemplateError
        A ``context.*`` placeholder the scenario's context does not have.
    """
    values = {
        "messages": [{"role": m.role, "content": m.text} for m in conversation.messages],
        "message": conversation.last_user_text,
        "transcript": format_prompt(conversation.messages),
        "scenarioId": conversation.scenario_id,
        "context": dict(conversation.context),
    }
    return _render(template, values)


def _render(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {key: _render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_render(item, values) for item in template]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return _value(whole.group(1), values)
    return PLACEHOLDER.sub(lambda match: _text(_value(match.group(1), values)), template)


def _value(name: str, values: dict[str, Any]) -> Any:
    head, *path = name.split(".")
    if head not in values:
        raise TemplateError(f"unknown template variable {{{{{name}}}}}; use one of {', '.join(VARIABLES)}")
    value = values[head]
    for step in path:
        if not isinstance(value, dict) or step not in value:
            raise TemplateError(f"the template's {{{{{name}}}}}: the scenario's context has no {step!r}")
        value = value[step]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _placeholders(template: Any) -> Iterator[str]:
    if isinstance(template, dict):
        for value in template.values():
            yield from _placeholders(value)
    elif isinstance(template, list):
        for item in template:
            yield from _placeholders(item)
    elif isinstance(template, str):
        yield from (match.group(1) for match in PLACEHOLDER.finditer(template))


@functools.lru_cache(maxsize=64)
def _compiled(path: str) -> Any:
    # Imported here: the rest of the package (and the CLI's other commands) work without it.
    from jsonpath_ng.ext import parse  # noqa: PLC0415

    try:
        return parse(path)
    except Exception as exc:  # JsonPathParserError, and plain Exceptions from the lexer
        raise ValueError(f"{path!r} is not a valid JSONPath: {exc}") from exc


def check_path(path: str) -> str:
    """``path`` when it is a valid JSONPath; raises ValueError saying why otherwise."""
    _compiled(path)
    return path


def _matches(path: str, document: Any) -> list[Any]:
    return [match.value for match in _compiled(path).find(document)]


def answer_at(path: str, document: Any) -> str:
    """The text at ``path`` in the app's JSON response (the first match).

    Raises
    ------
    AnswerNotFound
        Nothing matches, or the first match is not text.

    Examples
    --------
    >>> answer_at("$.output.text", {"output": {"text": "Hi!"}})
    'Hi!'
    """
    found = _matches(path, document)
    if not found:
        raise AnswerNotFound(f"answerPath {path} matches nothing in the response {_excerpt(document)}")
    if not isinstance(found[0], str):
        kind = type(found[0]).__name__
        raise AnswerNotFound(
            f"answerPath {path} points at a {kind}, not text, in the response {_excerpt(document)}"
        )
    return found[0]


def tokens_at(path: str | None, document: Any) -> int | None:
    """The token count at ``path`` (None when no path is configured or nothing numeric is there)."""
    if path is None:
        return None
    found = _matches(path, document)
    value = found[0] if found else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _excerpt(document: Any) -> str:
    text = json.dumps(document, ensure_ascii=False)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."
