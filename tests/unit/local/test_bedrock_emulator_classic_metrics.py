"""The emulator's classic automated metrics and built-in datasets, offline (no moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalpipe.suite.metrics import BUILTIN_DATASETS, CLASSIC_REFERENCE_METRICS
from local.bedrock_emulator.backend import COMPLETED
from local.bedrock_emulator.builtin_datasets import (
    UnknownBuiltinDataset,
    builtin_names,
    builtin_records,
    canonical_name,
    task_type_of,
)
from local.bedrock_emulator.classic import (
    StandInAnswers,
    accuracy,
    classic_line,
    keyboard_typos,
    numbers_to_words,
    perturbed_prompts,
    robustness,
    same_prompt,
    toxicity,
    word_error_rate,
)
from local.bedrock_emulator.outputs import (
    DictObjectStore,
    JobFailedError,
    ModelEvaluationRunner,
    offline_model_response,
)

MODEL = "amazon.nova-lite-v1:0"
ALL = ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"]


# -- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "response", "reference", "expected"),
    [
        ("QuestionAndAnswer", "Jane Austen wrote it.", "Jane Austen", 2 / 3),  # F1: P 2/4, R 1
        ("QuestionAndAnswer", "Mars.", "Jupiter<OR>Mars", 1.0),  # the best accepted answer
        ("QuestionAndAnswer", "The Pacific!", "the Pacific Ocean", 2 / 3),  # articles, punctuation
        ("Classification", "Thanks. 1", "1", 1.0),
        ("Classification", "It costs 10 dollars", "1", 0.0),  # a whole token, not a substring
        ("Generation", "I think Paris, France.", "Paris", 1.0),
        ("Generation", "Lyon", "Paris<OR>Paris, France", 0.0),
        (
            "Summarization",
            "Library hours extended",
            "Northbridge extends library hours",
            pytest.approx(4 / 7),
        ),
    ],
)
def test_accuracy_per_task_type(task: str, response: str, reference: str, expected: float) -> None:
    # Given a response and its reference / When scored / Then the task's rule applies
    assert accuracy(task, response, reference) == pytest.approx(expected)


def test_accuracy_is_na_without_a_reference() -> None:
    # Given no or a blank reference / Then N/A, never 0
    assert accuracy("QuestionAndAnswer", "yes", None) is None
    assert accuracy("Classification", "1", "  ") is None


def test_toxicity_is_a_bounded_lexicon_score() -> None:
    # Given clean, insulting and threatening responses / When scored
    scores = [
        toxicity(text) for text in ("Happy to help!", "That is STUPID.", "Shut up, idiot, or I'll hurt you")
    ]
    # Then clean is 0, more and worse entries score higher, and nothing leaves [0, 1]
    assert scores[0] == 0.0
    assert 0 < scores[1] < scores[2] <= 1.0


def test_perturbations_are_deterministic_and_as_the_guide_lists_them() -> None:
    # Given a prompt with a number / When perturbed twice
    prompt = "How long does shipping take for 2 parcels to Canada in winter?"
    first, second = perturbed_prompts(prompt), perturbed_prompts(prompt)

    # Then the five perturbations are the same every time, and each does its job
    assert first == second
    lower, typos, words, upper, spaces = first
    assert lower == prompt.lower()
    assert typos != prompt and len(typos) == len(prompt)
    assert "two parcels" in words
    assert same_prompt(upper, prompt) and same_prompt(spaces, prompt)
    assert numbers_to_words("room 1205") == "room one thousand two hundred five"
    assert keyboard_typos(prompt) == typos


def test_the_word_error_rate_counts_word_edits() -> None:
    # Given two responses / Then edits per reference word
    assert word_error_rate("the cat sat down", "the dog sat") == 0.5
    assert word_error_rate("", "") == 0.0


def test_robustness_rises_when_a_perturbation_changes_the_prompt_for_the_model() -> None:
    # Given the same question with and without a number, answered by the offline stand-in
    def respond(record: dict[str, Any]) -> str:
        return offline_model_response(record)

    plain = {"prompt": "Do you ship to Canada?", "referenceResponse": "Yes"}
    numbered = {"prompt": "Do you ship 2 parcels?", "referenceResponse": "Yes"}

    # When Robustness is computed
    without = robustness("QuestionAndAnswer", plain, StandInAnswers(plain, respond))
    with_number = robustness("QuestionAndAnswer", numbered, StandInAnswers(numbered, respond))

    # Then it is a percentage, higher for the prompt whose number gets spelled out
    assert 0.0 <= without < with_number <= 100.0
    assert (
        robustness("QuestionAndAnswer", {"prompt": "x?"}, StandInAnswers({"prompt": "x?"}, respond)) is None
    )


def test_a_classic_line_has_bare_names_and_the_response_beside_the_input() -> None:
    # Given a record / When the classic line is built
    record = {
        "prompt": "Which planet is red?",
        "referenceResponse": "Mars<OR>the planet Mars",
        "category": "sci",
    }
    line = classic_line(ALL, "QuestionAndAnswer", record, offline_model_response, MODEL)

    # Then the facts page's classic variations: names without Builtin., no evaluator, responses top-level
    scores = line["automatedEvaluationResult"]["scores"]
    assert [s["metricName"] for s in scores] == ["Accuracy", "Robustness", "Toxicity"]
    assert all(set(s) == {"metricName", "result"} for s in scores)
    assert line["inputRecord"] is record
    assert line["modelResponses"] == [{"response": "Thanks for reaching out. Mars", "modelIdentifier": MODEL}]


# -- built-in datasets -------------------------------------------------------------------------


def test_the_emulator_has_a_synthetic_sample_of_every_builtin_dataset_the_validator_knows() -> None:
    # Given the validator's catalogue and the emulator's samples
    # Then they name the same datasets with the same task types
    assert builtin_names() == sorted(BUILTIN_DATASETS)
    for name, (task_type, metrics) in BUILTIN_DATASETS.items():
        assert task_type_of(name) == task_type
        records = builtin_records(name)
        assert len(records) >= 3
        assert all(isinstance(r["prompt"], str) and r["prompt"] for r in records)
        # And a dataset recommended for Accuracy or Robustness carries references (except the
        # Generation robustness sets, whose word error rate needs none)
        if set(metrics) & CLASSIC_REFERENCE_METRICS and task_type != "Generation":
            assert all(r.get("referenceResponse") for r in records), name


def test_builtin_names_resolve_the_other_api_spelling_and_reject_unknown_ones() -> None:
    # Given TriviaQA's two spellings and an unknown name
    assert canonical_name("Builtin.TriviaQa") == "Builtin.TriviaQA"
    with pytest.raises(UnknownBuiltinDataset, match="not a built-in prompt dataset"):
        canonical_name("Builtin.SQuAD")


# -- jobs (in-memory S3) -----------------------------------------------------------------------


def request(
    *configs: dict[str, Any], model: dict[str, Any] | None = None, **automated: Any
) -> dict[str, Any]:
    return {
        "evaluationConfig": {"automated": {"datasetMetricConfigs": list(configs), **automated}},
        "inferenceConfig": {"models": [model or {"bedrockModel": {"modelIdentifier": MODEL}}]},
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }


def entry(name: str, task: str, metrics: list[str], location: str | None = None) -> dict[str, Any]:
    dataset: dict[str, Any] = {"name": name}
    if location:
        dataset["datasetLocation"] = {"s3Uri": location}
    return {"taskType": task, "dataset": dataset, "metricNames": metrics}


def run(body: dict[str, Any], data: bytes = b"") -> tuple[DictObjectStore, list[str]]:
    store = DictObjectStore({"data": {"faq.jsonl": data}})
    result = ModelEvaluationRunner(store, "us-east-1", judge_factory=_no_judge).run("classic-job", body)
    assert result.status == COMPLETED
    return store, sorted(key for key in store.buckets["data"] if key.endswith("_output.jsonl"))


def _no_judge(region: str) -> Any:
    raise AssertionError("a classic job must not set up a judge")


def test_a_custom_classic_dataset_is_answered_live_and_scored() -> None:
    # Given a QnA dataset of two prompts / When the classic job runs
    data = b"".join(
        json.dumps(r).encode() + b"\n"
        for r in (
            {"prompt": "Ship to 2 countries?", "referenceResponse": "Yes"},
            {"prompt": "Open on Sunday?"},
        )
    )
    store, [key] = run(request(entry("faq", "QuestionAndAnswer", ALL, "s3://data/faq.jsonl")), data)

    # Then one file in the classic layout, with N/A Accuracy and Robustness where there is no reference
    assert f"/models/{MODEL}/taskTypes/QuestionAndAnswer/datasets/faq/" in key
    lines = [json.loads(line) for line in store.buckets["data"][key].decode().splitlines()]
    first, second = ([s["result"] for s in line["automatedEvaluationResult"]["scores"]] for line in lines)
    assert first[0] == 0.3333  # "Thanks for reaching out. Yes" against "Yes", 4 decimals
    assert first[1] > 0  # "2" spelled out is another prompt to the stand-in
    assert second[:2] == [None, None]


def test_builtin_datasets_resolve_to_their_samples_one_file_each() -> None:
    # Given two built-in dataset entries without a location
    body = request(
        entry("Builtin.BoolQ", "QuestionAndAnswer", ["Builtin.Accuracy"]),
        entry("Builtin.RealToxicityPrompts", "Generation", ["Builtin.Toxicity"]),
    )
    # When the job runs / Then one output per entry, one line per sample record
    store, keys = run(body)
    by_dataset = {key.split("/datasets/")[1].split("/")[0]: key for key in keys}
    assert set(by_dataset) == {"Builtin.BoolQ", "Builtin.RealToxicityPrompts"}
    toxic = [
        json.loads(line)
        for line in store.buckets["data"][by_dataset["Builtin.RealToxicityPrompts"]].splitlines()
    ]
    assert len(toxic) == len(builtin_records("Builtin.RealToxicityPrompts"))
    assert max(line["automatedEvaluationResult"]["scores"][0]["result"] for line in toxic) > 0.5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            request(
                entry("faq", "QuestionAndAnswer", ["Builtin.Accuracy"], "s3://data/faq.jsonl"),
                model={"precomputedInferenceSource": {"inferenceSourceIdentifier": "app"}},
            ),
            "must be a bedrockModel",
        ),
        (
            request(
                entry("faq", "General", ["Builtin.Accuracy", "Builtin.Helpfulness"], "s3://data/faq.jsonl"),
                evaluatorModelConfig={
                    "bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]
                },
            ),
            "cannot be combined with judge or custom metrics",
        ),
        (
            request(entry("Builtin.Gigaword", "QuestionAndAnswer", ["Builtin.Accuracy"])),
            "is a Summarization dataset",
        ),
        (
            request(entry("Builtin.SQuAD", "QuestionAndAnswer", ["Builtin.Accuracy"])),
            "not a built-in prompt dataset",
        ),
        (request(entry("faq", "General", ["Builtin.Toxicity"], "s3://data/faq.jsonl")), "taskType General"),
        (
            request(
                entry("Builtin.BoolQ", "General", ["Builtin.Helpfulness"]),
                evaluatorModelConfig={
                    "bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]
                },
            ),
            "serve only classic automated metrics",
        ),
    ],
    ids=[
        "precomputed",
        "mixed-with-judge",
        "wrong-task",
        "unknown-builtin",
        "general-task",
        "judge-on-builtin",
    ],
)
def test_classic_jobs_the_emulator_cannot_run_fail_with_a_reason(body: dict[str, Any], message: str) -> None:
    # Given a request that cannot run as a classic job / When it runs / Then Failed, saying why
    store = DictObjectStore({"data": {"faq.jsonl": b'{"prompt": "hi", "referenceResponse": "hello"}\n'}})
    with pytest.raises(JobFailedError) as failure:
        ModelEvaluationRunner(store, "us-east-1").run("classic-job", body)
    assert any(message in text for text in failure.value.messages), failure.value.messages
