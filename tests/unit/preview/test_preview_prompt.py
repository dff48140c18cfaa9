"""Rendering a custom metric's instructions with a record, the judge prompt's format, and reading it back."""

from __future__ import annotations

import pytest

from evalpipe.preview import CustomMetric, Rating, Sample, judge_prompt, read_judge_prompt, samples_of

RECORD = {
    "prompt": "User: Cancel BK-1.\nAssistant: Shall I?\nUser: Yes.",
    "referenceResponse": "Done: BK-1 is cancelled.",
    "modelResponses": [{"response": "BK-1 is now cancelled.", "modelIdentifier": "app-v1"}],
}
RAG_RECORD = {
    "conversationTurns": [
        {
            "prompt": {"content": [{"text": "How do I reset my password?"}]},
            "referenceResponses": [{"content": [{"text": "Choose Forgot password."}]}],
            "output": {
                "text": "Choose Forgot password on the sign-in page.",
                "retrievedPassages": {
                    "retrievalResults": [
                        {"content": {"text": "To reset your password, choose Forgot password."}},
                        {"content": {"text": "Reset links expire after 30 minutes."}},
                    ]
                },
            },
        },
        {
            "prompt": {"content": [{"text": "How long is the link valid?"}]},
            "referenceContexts": [{"content": [{"text": "Reset links expire after 30 minutes."}]}],
            "output": {"text": "30 minutes.", "retrievedResults": {"retrievalResults": []}},
        },
    ]
}
SCALE = (Rating("N/A", -1.0), Rating("Poor", 0.0), Rating("Good", 1.0))
TAIL = (
    "Rating scale: answer with exactly one of these definitions, as written "
    "(its value follows in brackets).\n"
    '- "N/A" [-1]\n- "Poor" [0]\n- "Good" [1]\n\n'
    "Answer with one JSON object and nothing else:\n"
    '{"reasoning": "<why, in one to three sentences>", "rating": "<one definition of the rating scale>"}'
)


def test_every_model_evaluation_variable_is_rendered_in_its_tags_and_the_scale_is_appended():
    # Given instructions using the three model-evaluation variables, and a record giving all three
    metric = CustomMetric(
        "done",
        "Did the assistant do what was asked?\n\nPrompt: {{prompt}}\nResponse: {{prediction}}\n"
        "Reference: {{ground_truth}}",
        SCALE,
    )
    (sample,) = samples_of(RECORD, 7, rag=False)

    # When the judge prompt is rendered
    prompt = judge_prompt(metric, sample)

    # Then each value sits in its variable's tags, the rating scale and answer format follow
    assert prompt.text == (
        "Did the assistant do what was asked?\n\n"
        "Prompt: <prompt>User: Cancel BK-1.\nAssistant: Shall I?\nUser: Yes.</prompt>\n"
        "Response: <prediction>BK-1 is now cancelled.</prediction>\n"
        "Reference: <ground_truth>Done: BK-1 is cancelled.</ground_truth>\n\n" + TAIL
    )
    assert (prompt.empty, prompt.unknown, sample.missing, sample.label) == ((), (), (), "line 7")


def test_a_missing_ground_truth_is_rendered_empty_and_reported():
    # Given a record without referenceResponse, and instructions that use {{ground_truth}}
    record = {key: value for key, value in RECORD.items() if key != "referenceResponse"}
    metric = CustomMetric("m", "Compare.\n\nResponse: {{prediction}}\nReference: {{ground_truth}}", SCALE)
    (sample,) = samples_of(record, 1, rag=False)

    # When rendered
    prompt = judge_prompt(metric, sample)

    # Then the variable is empty, and both the sample and the prompt say so
    assert "Reference: <ground_truth></ground_truth>\n\n" in prompt.text
    assert prompt.empty == ("ground_truth",)
    assert sample.missing == ("ground_truth (referenceResponse)",)


def test_rag_records_give_one_sample_per_turn_with_context_history_and_reference_contexts():
    # Given a RAG conversation of two turns
    # When its samples are read
    first, second = samples_of(RAG_RECORD, 3, rag=True)

    # Then each turn reads its own prompt, answer, reference, passages; the second has the history
    assert first.values == {
        "prompt": "How do I reset my password?",
        "prediction": "Choose Forgot password on the sign-in page.",
        "ground_truth": "Choose Forgot password.",
        "context": "To reset your password, choose Forgot password.\n\nReset links expire after 30 minutes.",
        "reference_contexts": "",
        "chat_history": "",
    }
    assert first.missing == ("reference_contexts (referenceContexts)",)  # no history is expected at turn 1
    assert second.values["chat_history"] == (
        "User: How do I reset my password?\nAssistant: Choose Forgot password on the sign-in page."
    )
    assert second.values["reference_contexts"] == "Reset links expire after 30 minutes."
    assert second.missing == (
        "ground_truth (referenceResponses[0].content[0].text)",
        "context (output.retrievedPassages)",
    )
    assert (first.label, second.label) == ("line 3, turn 1", "line 3, turn 2")


def test_rag_variables_are_rendered_for_a_rag_suite():
    metric = CustomMetric(
        "grounded",
        "Is the answer grounded?\n\nHistory: {{chat_history}}\nPassages: {{context}}\nAnswer: {{prediction}}",
    )
    second = samples_of(RAG_RECORD, 3, rag=True)[1]

    prompt = judge_prompt(metric, second)

    assert "History: <chat_history>User: How do I reset my password?\nAssistant: Choose" in prompt.text
    assert "Passages: <context></context>\nAnswer: <prediction>30 minutes.</prediction>" in prompt.text
    assert prompt.empty == ("context",)


def test_what_bedrock_does_not_fill_in_stays_as_written_and_is_reported():
    # Given a model-evaluation suite's metric using RAG's {{context}} and a misspelt {{ prompt }}
    metric = CustomMetric("m", "Judge.\n\n{{ prompt }} {{context}} {{prediction}}", SCALE)
    (sample,) = samples_of(RECORD, 1, rag=False)

    prompt = judge_prompt(metric, sample)

    assert prompt.text.startswith(
        "Judge.\n\n{{ prompt }} {{context}} <prediction>BK-1 is now cancelled.</prediction>"
    )
    assert prompt.unknown == ("{{ prompt }}", "{{context}}")


def test_a_metric_without_a_scale_asks_for_reasoning_only():
    prompt = judge_prompt(CustomMetric("m", "Judge {{prediction}}"), Sample(1, None, {"prediction": "x"}))
    assert prompt.text == (
        "Judge <prediction>x</prediction>\n\nNo rating scale is defined: give your assessment only.\n\n"
        "Answer with one JSON object and nothing else:\n"
        '{"reasoning": "<your assessment, in one to three sentences>"}'
    )


@pytest.mark.parametrize(
    "scale",
    [
        SCALE,
        (Rating("Excellent", "excellent"), Rating("Fine", "1"), Rating('Say "no"', 0.5)),
        (),
    ],
    ids=["numeric", "string values and quotes", "no scale"],
)
def test_a_judge_prompt_reads_back_to_its_instructions_record_and_scale(scale):
    # Given a rendered prompt (string values, a "1" that is a string, a definition with quotes)
    instructions = "Rate it.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}\nReference: {{ground_truth}}"
    (sample,) = samples_of(RECORD, 1, rag=False)
    text = judge_prompt(CustomMetric("m", instructions, scale), sample).text

    # When read back
    back = read_judge_prompt(text)

    # Then the instructions, the values and the scale are the ones rendered
    assert back is not None
    assert back.instructions == instructions
    assert back.values == {
        "prompt": RECORD["prompt"],
        "prediction": "BK-1 is now cancelled.",
        "ground_truth": "Done: BK-1 is cancelled.",
    }
    assert back.rating_scale == scale


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order?",
        "Rate it.\n\n" + TAIL + "\nThanks!",  # text after the answer format
        "Rate it.\n\n" + TAIL.replace('- "Poor" [0]', "- Poor = 0"),  # a scale line of another form
    ],
)
def test_other_prompts_do_not_read_back(text):
    assert read_judge_prompt(text) is None
