"""A conversation with the app under test: its messages, the app's reply, and how a record shows it.

The practitioner's guide (docs/collect.md) writes a multi-turn record's prompt as the
conversation so far, one ``User:`` / ``Assistant:`` line per message, ending with the user's
last turn; the app's answer to that turn is the response. A single-turn prompt is the user's
text as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_STRIP_TAGS",
    "Conversation",
    "Message",
    "Reply",
    "Target",
    "format_prompt",
    "strip_reasoning",
]

# Reasoning some models leak into their answer (Nova's <thinking>, R1-style <think>, ...).
DEFAULT_STRIP_TAGS = ("thinking", "think", "reasoning")
TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One message of the conversation: the user's turn or the app's (stripped) answer."""

    role: Role
    text: str


@dataclass(frozen=True)
class Conversation:
    """What a target is asked: the messages so far, ending with the user's turn to answer.

    Attributes
    ----------
    scenario_id : str
        The scenario the conversation plays (HTTP and Lambda templates can send it).
    messages : tuple[Message, ...]
        Alternating user / assistant messages, first and last from the user.
    tool_results : Mapping[str, dict or str]
        The scenario's canned tool results by tool name (the Bedrock target's tool loop).
    context : Mapping[str, Any]
        The scenario's session data (``context`` of the scenarios file), for templates.
    """

    scenario_id: str
    messages: tuple[Message, ...]
    tool_results: Mapping[str, dict[str, Any] | str] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def last_user_text(self) -> str:
        return self.messages[-1].text


@dataclass(frozen=True)
class Reply:
    """The app's answer to one user turn.

    Attributes
    ----------
    text : str
        The answer as the app gave it (reasoning not yet stripped).
    input_tokens, output_tokens : int or None
        Tokens the turn cost, summed over tool rounds; None when the target does not say.
    latency_ms : int
        Wall-clock time of the turn, retries and tool rounds included.
    tool_calls : int
        Tool results fed back to the model during the turn.
    """

    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    tool_calls: int = 0


class Target(Protocol):
    """The app under test, whatever it runs on (one adapter per target type).

    ``respond`` is called from several threads at once (one conversation each); it raises on
    a call that failed for good (after the client's own retries).
    """

    def respond(self, conversation: Conversation) -> Reply: ...


def format_prompt(messages: tuple[Message, ...] | list[Message]) -> str:
    """The record's prompt: the user's text for one turn, else the guide's transcript.

    Examples
    --------
    >>> format_prompt([Message("user", "hello")])
    'hello'
    >>> print(format_prompt([Message("user", "hi"), Message("assistant", "Hello!"), Message("user", "bye")]))
    User: hi
    Assistant: Hello!
    User: bye
    """
    if len(messages) == 1:
        return messages[0].text
    return "\n".join(f"{'User' if m.role == 'user' else 'Assistant'}: {m.text}" for m in messages)


def strip_reasoning(text: str, tags: tuple[str, ...] | list[str] = DEFAULT_STRIP_TAGS) -> str:
    """Remove reasoning blocks from an answer, then surrounding whitespace.

    For each tag: every ``<tag ...>...</tag>`` block; an opening tag never closed (the answer
    was cut off while reasoning) and everything after it; a closing tag with no opening tag
    (the opening was in the prompt) and everything before it. Tags match in any letter case.

    Examples
    --------
    >>> strip_reasoning("<thinking>The user wants X.</thinking>Here is X.")
    'Here is X.'
    >>> strip_reasoning("weighing options</think>\\nDone.", ["think"])
    'Done.'
    """
    for tag in tags:
        name = re.escape(tag)
        text = re.sub(rf"<{name}(?:\s[^>]*)?>.*?</{name}\s*>", "", text, flags=re.IGNORECASE | re.DOTALL)
        closing = re.search(rf"</{name}\s*>", text, flags=re.IGNORECASE)
        if closing:
            text = text[closing.end() :]
        opening = re.search(rf"<{name}(?:\s[^>]*)?>", text, flags=re.IGNORECASE)
        if opening:
            text = text[: opening.start()]
    return text.strip()
