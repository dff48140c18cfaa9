"""The pre-flight estimate of classic automated jobs: inference only, Robustness's perturbed prompts,
built-in datasets that cannot be measured."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import NoUsdBecause, PriceTable, load_prices
from tests.builders import jsonl

NOVA_LITE = "amazon.nova-lite-v1:0"
PROMPT = "p" * 400  # 100 tokens at 4 characters per token
REFERENCE = "r" * 200  # 50 tokens: the generated response is assumed as long as the references


def classic_suite(metrics: list[str], *builtin: dict[str, Any], custom: bool = True) -> dict[str, Any]:
    entries = [{"taskType": "QuestionAndAnswer", "dataset": {"name": "faq"}, "metricNames": metrics}]
    return {
        "evaluationConfig": {"automated": {"datasetMetricConfigs": [*(entries if custom else []), *builtin]}},
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": NOVA_LITE}}]},
    }


def boolq(*metrics: str) -> dict[str, Any]:
    return {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "Builtin.BoolQ"},
        "metricNames": list(metrics),
    }


def measured(count: int) -> DatasetMeasure:
    return DatasetMeasure.of([jsonl([{"prompt": PROMPT, "referenceResponse": REFERENCE}] * count)])


@pytest.fixture
def prices() -> PriceTable:
    return load_prices()


def test_a_classic_job_costs_the_models_inference_and_no_judge(prices: PriceTable) -> None:
    # Given a classic QnA suite (Accuracy, Toxicity) on 10 measured prompts
    estimate = estimate_run(classic_suite(["Builtin.Accuracy", "Builtin.Toxicity"]), measured(10), prices)

    # Then one inference row: 10 x (100 in x $0.06 + 50 out x $0.24) / 1M, and no judge
    [item] = estimate.items
    assert (item.item, item.model, item.input_tokens, item.output_tokens) == (
        "Response collection",
        NOVA_LITE,
        1000,
        500,
    )
    assert estimate.total_usd == pytest.approx((1000 * 0.06 + 500 * 0.24) / 1_000_000)
    assert estimate.metrics == 0
    assert any("no judge cost" in note for note in estimate.notes)


def test_robustness_multiplies_the_inference_by_the_perturbed_prompts(prices: PriceTable) -> None:
    # Given the same suite with and without Robustness
    plain = estimate_run(classic_suite(["Builtin.Accuracy"]), measured(10), prices)
    robust = estimate_run(classic_suite(["Builtin.Accuracy", "Builtin.Robustness"]), measured(10), prices)

    # Then Robustness costs 1 + 5 times the inference, and says why
    assert robust.total_usd == pytest.approx(6 * plain.total_usd)
    assert robust.items[0].input_tokens == 6 * plain.items[0].input_tokens
    assert "1 + 5 perturbed prompts" in robust.items[0].details
    assert any("5 perturbed" in text for text in robust.assumptions)


def test_the_number_of_perturbations_comes_from_the_price_file(prices: PriceTable) -> None:
    # Given a price file that assumes 2 perturbations
    document = {
        "models": {NOVA_LITE: {"input": 0.06, "output": 0.24}},
        "tokens": {"robustnessPerturbations": 2},
    }
    table = PriceTable.from_document(document, "test")

    # When a Robustness suite is estimated / Then the inference is tripled
    plain = estimate_run(classic_suite(["Builtin.Toxicity"]), measured(4), table)
    robust = estimate_run(classic_suite(["Builtin.Robustness"]), measured(4), table)
    assert robust.total_usd == pytest.approx(3 * plain.total_usd)


def test_builtin_datasets_are_not_measured_so_there_is_no_total(prices: PriceTable) -> None:
    # Given a custom entry plus BoolQ with Robustness
    suite = classic_suite(["Builtin.Accuracy"], boolq("Builtin.Accuracy", "Builtin.Robustness"))

    # When estimated
    estimate = estimate_run(suite, measured(10), prices)

    # Then the custom dataset is priced, BoolQ has a row without a number, and the note says why
    custom, builtin = estimate.items
    assert custom.usd is not None
    assert (builtin.item, builtin.usd) == ("Response collection", None)
    assert builtin.details.startswith("Builtin.BoolQ: a built-in dataset (not measured)")
    assert "5 perturbed versions for Builtin.Robustness" in builtin.details
    assert estimate.total_usd is None
    note = next(note for note in estimate.notes if "Builtin.BoolQ" in note)
    assert "not available to measure" in note
    assert "100 prompts" in note


def test_each_row_without_a_number_says_why(prices: PriceTable) -> None:
    # Given a custom entry on a model the price file lacks, plus BoolQ
    suite = classic_suite(["Builtin.Accuracy"], boolq("Builtin.Accuracy"))
    suite["inferenceConfig"]["models"][0]["bedrockModel"]["modelIdentifier"] = "acme.unpriced-v1:0"

    # When estimated
    estimate = estimate_run(suite, measured(10), prices)

    # Then the custom row lacks a price and BoolQ's row a size: two reasons, told apart
    custom, builtin = estimate.items
    assert (custom.usd, custom.no_usd_because) == (None, NoUsdBecause.NO_PRICE)
    assert (builtin.usd, builtin.no_usd_because) == (None, NoUsdBecause.BUILTIN_DATASET)
    assert estimate.no_total_because == (NoUsdBecause.NO_PRICE, NoUsdBecause.BUILTIN_DATASET)
    # And the stored form carries them as plain strings
    assert [item["no_usd_because"] for item in estimate.as_dict()["items"]] == ["no_price", "builtin_dataset"]

    # Given the same suite on a priced model / When estimated / Then only the built-in row has no number
    suite = classic_suite(["Builtin.Accuracy"], boolq("Builtin.Accuracy"))
    priced = estimate_run(suite, measured(10), prices)
    assert [item.no_usd_because for item in priced.items] == [None, NoUsdBecause.BUILTIN_DATASET]
    assert priced.no_total_because == (NoUsdBecause.BUILTIN_DATASET,)


def test_a_builtin_only_suite_is_not_told_its_dataset_is_empty(prices: PriceTable) -> None:
    # Given a suite naming only BoolQ, estimated without a dropped dataset
    estimate = estimate_run(
        classic_suite([], boolq("Builtin.Accuracy"), custom=False), DatasetMeasure(), prices
    )

    # Then the notes speak of the built-in dataset, not of an empty dataset
    assert not any("no records" in note for note in estimate.notes)
    assert [item.details.split(":")[0] for item in estimate.items] == ["Builtin.BoolQ"]
    assert estimate.as_dict()["total_usd"] is None
