"""The record's prompt in the practitioner's guide form, and reasoning stripped from answers."""

from __future__ import annotations

import pytest

from evalpipe.collect import DEFAULT_STRIP_TAGS, Message, format_prompt, strip_reasoning


def test_a_single_turn_prompt_is_the_users_text_as_it_is() -> None:
    # Given one user message with surrounding spaces and a newline
    messages = [Message("user", "  Where is BK-1?\nThanks ")]

    # When formatted / Then it is unchanged (no "User:" prefix)
    assert format_prompt(messages) == "  Where is BK-1?\nThanks "


def test_a_multi_turn_prompt_is_the_history_in_user_assistant_lines_ending_with_the_user() -> None:
    # Given a conversation of three user turns and two answers
    messages = [
        Message("user", "I want to cancel BK-10517."),
        Message("assistant", "Shall I go ahead?"),
        Message("user", "Yes."),
        Message("assistant", "Done."),
        Message("user", "Thanks!"),
    ]

    # When formatted
    prompt = format_prompt(messages)

    # Then it is the guide's "User: ...\nAssistant: ...\nUser: ..." form
    assert prompt == (
        "User: I want to cancel BK-10517.\nAssistant: Shall I go ahead?\nUser: Yes.\n"
        "Assistant: Done.\nUser: Thanks!"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<thinking>The user wants X.</thinking>Here is X.", "Here is X."),
        ("Before <thinking>a\nb\nc</thinking> after", "Before  after"),
        ("<THINKING>loud</Thinking>Answer", "Answer"),
        ('<thinking type="plan">p</thinking>Answer', "Answer"),
        ("<thinking>one</thinking>A<thinking>two</thinking>B", "AB"),
        ("<think>r1 style</think>\n\nAnswer", "Answer"),
        ("<reasoning>why</reasoning>Answer", "Answer"),
        ("weighing the options</think>\nDone.", "Done."),  # the opening tag was in the prompt
        ("Answer so far <thinking>cut off mid-thought", "Answer so far"),  # max tokens while reasoning
        ("No tags at all.  ", "No tags at all."),
        ("I like <thinkpad> laptops", "I like <thinkpad> laptops"),  # not a tag we strip
    ],
)
def test_reasoning_blocks_are_stripped_with_the_default_tags(raw: str, expected: str) -> None:
    assert strip_reasoning(raw, DEFAULT_STRIP_TAGS) == expected


def test_the_tags_are_configurable() -> None:
    # Given an answer with a custom reasoning tag and a <thinking> block
    raw = "<scratchpad>notes</scratchpad><thinking>kept</thinking>Answer"

    # When only "scratchpad" is stripped / Then <thinking> stays; with no tags nothing is removed
    assert strip_reasoning(raw, ["scratchpad"]) == "<thinking>kept</thinking>Answer"
    assert strip_reasoning(raw, []) == raw
