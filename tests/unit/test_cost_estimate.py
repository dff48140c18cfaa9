"""The pre-flight cost estimate: the price file, model-id matching, measured tokens, the guide's formula."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalpipe.estimate.cost as estimate_module
import evalpipe.estimate.measure as measure_module
import evalpipe.estimate.prices as prices_module
from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import (
    BUNDLED_PRICES,
    PRICES_ENV,
    NoUsdBecause,
    Price,
    PriceFileError,
    PriceTable,
    TokenAssumptions,
    load_prices,
    model_key,
)
from tests.builders import jsonl, line
from tests.unit.validation.builders import APP, CUSTOM, JUDGE, at, make_line, make_suite, put

NOVA_LITE = "amazon.nova-lite-v1:0"
CUSTOM_JUDGE = ("evaluationConfig", "automated", "customMetricConfig", "evaluatorModelConfig")
CUSTOM_JUDGE = (*CUSTOM_JUDGE, "bedrockEvaluatorModels", 0)
GUIDE_PRICES = {  # the practitioner's guide's table, USD per 1M tokens (input, output)
    "amazon.nova-lite-v1:0": (0.06, 0.24),
    "amazon.nova-pro-v1:0": (0.80, 3.20),
    "anthropic.claude-3-haiku": (0.25, 1.25),
    "anthropic.claude-3-sonnet": (3.00, 15.00),
}


def builtin_suite(*metrics: str, judge: str = JUDGE) -> dict[str, Any]:
    """The builders' suite grading only the given built-in metrics with ``judge``."""
    return make_suite(metrics=metrics, custom=(), judge=judge)


def records(count: int, prompt: str = "p" * 40, response: str = "r" * 80, reference: str = "") -> bytes:
    return jsonl([make_line(prompt=prompt, referenceResponse=reference,
                            modelResponses=[{"response": response, "modelIdentifier": APP}])
                  for _ in range(count)])  # fmt: skip


def measure(data: bytes) -> DatasetMeasure:
    return DatasetMeasure.of([data])


@pytest.fixture
def prices() -> PriceTable:
    return load_prices(environ={})


def table(models: dict[str, tuple[float, float]], **tokens: float) -> PriceTable:
    return PriceTable(
        {key: Price(key, *value) for key, value in models.items()}, "test prices", TokenAssumptions(**tokens)
    )


# --- the price file -------------------------------------------------------------------------


def test_the_bundled_price_file_holds_the_guides_prices(prices):
    # Given the bundled price file / Then it holds the guide's four models at the guide's prices
    assert {key: (p.input, p.output) for key, p in prices.models.items()} == GUIDE_PRICES
    assert prices.currency == "USD"
    assert prices.tokens == TokenAssumptions()  # the file states the code's defaults explicitly


def test_the_bundled_price_file_ships_inside_the_package():
    # The Lambda asset copies lambdas/evalpipe/ whole, and the wheel declares data/*.json
    assert Path(prices_module.__file__).parents[1] / "data" / "prices.json" == BUNDLED_PRICES
    assert BUNDLED_PRICES.is_file()


def test_an_explicit_file_wins_over_the_environment_which_wins_over_the_bundled_file(tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"models": {"my.judge-v1:0": {"input": 1, "output": 2}}}))
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"models": {"env.judge-v1:0": {"input": 3, "output": 4}}}))
    assert list(load_prices(mine, environ={PRICES_ENV: str(env)}).models) == ["my.judge-v1:0"]
    assert list(load_prices(None, environ={PRICES_ENV: str(env)}).models) == ["env.judge-v1:0"]
    assert load_prices(None, environ={PRICES_ENV: str(env)}).source == str(env)
    assert "bundled" in load_prices(None, environ={}).source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="not-json"),
        pytest.param("[]", "must be a JSON object", id="not-an-object"),
        pytest.param('{"prices": {}}', "'models' must be an object", id="no-models"),
        pytest.param('{"models": {"m": {"input": -1, "output": 1}}}', 'models["m"]', id="negative"),
        pytest.param('{"models": {"m": {"input": "0.8", "output": 1}}}', 'models["m"]', id="string-price"),
        pytest.param('{"models": {"m": {"input": 1}}}', 'models["m"]', id="no-output-price"),
        pytest.param('{"models": {"m": [1, 2]}}', 'models["m"]', id="entry-not-object"),
        pytest.param('{"models": {}, "tokens": {"charPerToken": 3}}', "tokens.charPerToken", id="token-typo"),
        pytest.param('{"models": {}, "tokens": {"charsPerToken": 0}}', "greater than 0", id="zero-cpt"),
        pytest.param('{"models": {}, "tokens": []}', "'tokens' must be an object", id="tokens-list"),
    ],
)
def test_a_malformed_price_file_is_refused_naming_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceFileError) as raised:
        load_prices(path)
    assert message in str(raised.value)


def test_a_missing_price_file_is_refused(tmp_path):
    with pytest.raises(PriceFileError, match="cannot read price file"):
        load_prices(tmp_path / "absent.json")


def test_token_assumptions_in_the_file_replace_the_defaults(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {}, "tokens": {"charsPerToken": 3, "judgeOutputTokens": 250}}))
    tokens = load_prices(path).tokens
    assert (tokens.chars_per_token, tokens.judge_output_tokens) == (3, 250)
    assert tokens.builtin_rubric_tokens == TokenAssumptions().builtin_rubric_tokens


# --- matching model ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "entry"),
    [
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("AMAZON.NOVA-PRO-V1:0", "amazon.nova-pro-v1:0"),
        ("amazon.nova-pro", "amazon.nova-pro-v1:0"),
        ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
        ("amazon.nova-pro-v1:0:300k", "amazon.nova-pro-v1:0"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0", NOVA_LITE),
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku"),
        ("apac.anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku"),
        ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku"),
        ("anthropic.claude-3-sonnet-20240229-v1:0:28k", "anthropic.claude-3-sonnet"),
        ("anthropic.claude-3-sonnet", "anthropic.claude-3-sonnet"),
    ],
)
def test_a_model_id_finds_its_price_with_or_without_region_prefix_and_version(prices, model_id, entry):
    found = prices.lookup(model_id)
    assert found is not None
    assert found.key == entry


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",  # another model, not a version of claude-3-sonnet
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "amazon.nova-premier-v1:0",
        "amazon.nova",
        "meta.llama3-70b-instruct-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
        "",
    ],
)
def test_other_models_have_no_price_rather_than_a_neighbours(prices, model_id):
    assert prices.lookup(model_id) is None


def test_an_entry_spelled_exactly_wins_over_one_that_only_matches_without_the_version():
    prices = table({"amazon.nova-pro": (1.0, 1.0), "amazon.nova-pro-v2:0": (2.0, 2.0)})
    assert prices.lookup("amazon.nova-pro-v2:0").input == 2.0
    assert prices.lookup("us.amazon.nova-pro-v1:0").input == 1.0


def test_model_key_strips_only_prefix_and_suffix():
    assert model_key(" us.Amazon.Nova-Lite-v1:0 ") == "amazon.nova-lite"
    assert model_key("anthropic.claude-3-haiku-20240307") == "anthropic.claude-3-haiku"


# --- the estimate ---------------------------------------------------------------------------


def test_known_prices_give_the_guides_formula_with_the_measured_record_text(prices):
    # Given 10 records of 40 prompt and 80 response characters (10 + 20 tokens at 4 chars/token),
    # one built-in metric without reference, judged by nova-lite (0.06 / 0.24 per 1M)
    estimate = estimate_run(
        builtin_suite("Builtin.Helpfulness", judge=NOVA_LITE), measure(records(10)), prices
    )
    # Then the judge reads 1,200 rubric + 30 record tokens per record, and answers 200
    judge = estimate.items[1]
    assert (judge.input_tokens, judge.output_tokens, judge.metrics) == (10 * 1230, 10 * 200, 1)
    assert judge.usd == pytest.approx((12_300 * 0.06 + 2_000 * 0.24) / 1e6)
    assert judge.model == NOVA_LITE
    assert estimate.total_usd == pytest.approx(judge.usd)
    assert estimate.records == 10
    assert estimate.metrics == 1


def test_with_the_guides_1500_token_rubric_and_no_record_text_it_is_the_guides_number():
    # Given the guide's assumption (~1,500 in / ~200 out per record and metric) and empty records
    prices = table({"amazon.nova-pro-v1:0": (0.80, 3.20)}, builtin_rubric_tokens=1500)
    suite = builtin_suite(
        *[f"Builtin.{m}" for m in ("Helpfulness", "Coherence", "Relevance", "Faithfulness")]
    )
    data = records(18, prompt="", response="")
    # When estimated / Then 18 records x 4 metrics x (1,500 x 0.80 + 200 x 3.20) / 1M
    estimate = estimate_run(suite, measure(data), prices)
    assert estimate.total_usd == pytest.approx(18 * 4 * (1500 * 0.80 + 200 * 3.20) / 1e6)
    assert estimate.per_metric_usd == pytest.approx(18 * (1500 * 0.80 + 200 * 3.20) / 1e6)


def test_precomputed_responses_cost_nothing_to_collect_and_the_estimate_says_so(prices):
    estimate = estimate_run(make_suite(), measure(records(3)), prices)
    collection = estimate.items[0]
    assert collection.item == "Response collection"
    assert collection.usd == 0.0
    assert "precomputed responses" in collection.details
    assert "no model is invoked" in collection.details


def test_longer_prompts_and_responses_cost_more_by_exactly_their_measured_tokens(prices):
    suite = builtin_suite("Builtin.Helpfulness", "Builtin.Coherence")
    short = estimate_run(suite, measure(records(5, prompt="a" * 40, response="b" * 40)), prices)
    long = estimate_run(suite, measure(records(5, prompt="a" * 4040, response="b" * 2040)), prices)
    # 5 records x 2 metrics x (4,000 + 2,000) / 4 more input tokens; the same output
    assert long.items[1].input_tokens - short.items[1].input_tokens == 5 * 2 * 1500
    assert long.items[1].output_tokens == short.items[1].output_tokens
    assert long.total_usd > short.total_usd


def test_the_reference_is_counted_only_for_metrics_that_grade_against_it(prices):
    with_ref = measure(records(4, reference="x" * 400))  # 100 tokens
    without = measure(records(4))
    helpfulness = builtin_suite("Builtin.Helpfulness")
    correctness = builtin_suite("Builtin.Correctness")
    assert estimate_run(helpfulness, with_ref, prices).items[1].input_tokens == (
        estimate_run(helpfulness, without, prices).items[1].input_tokens
    )
    assert estimate_run(correctness, with_ref, prices).items[1].input_tokens == (
        estimate_run(correctness, without, prices).items[1].input_tokens + 4 * 100
    )


def custom_only(instructions: str) -> dict[str, Any]:
    suite = make_suite()
    put(suite, (*CUSTOM, "instructions"), instructions)
    put(suite, (*CUSTOM, "ratingScale"), [{"definition": "Good", "value": {"floatValue": 1}}])  # 4 chars
    suite["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"] = ["confirmation_check"]
    return suite


def test_a_custom_metric_costs_its_own_instruction_length_not_the_builtin_rubric(prices):
    data = measure(records(2, prompt="p" * 40, response="r" * 80))  # 30 record tokens
    short = estimate_run(custom_only("x" * 396 + "{{prompt}} {{prediction}}"), data, prices)
    long = estimate_run(custom_only("x" * 4396 + "{{prompt}} {{prediction}}"), data, prices)
    # 150 overhead + (396 + 1 space + 4 rating chars) / 4 + 30 record tokens; variables are replaced
    assert short.items[1].input_tokens == round(2 * (150 + 401 / 4 + 30))
    assert long.items[1].input_tokens - short.items[1].input_tokens == 2 * 1000
    assert "custom" in long.items[1].details


def test_a_custom_metric_using_ground_truth_reads_the_reference(prices):
    data = measure(records(2, reference="z" * 800))  # 200 tokens
    plain = estimate_run(custom_only("Judge it. {{prompt}} {{prediction}}"), data, prices)
    graded = estimate_run(custom_only("Judge it. {{prompt}} {{prediction}} {{ground_truth}}"), data, prices)
    assert graded.items[1].input_tokens - plain.items[1].input_tokens == round(2 * (200 + 1 / 4))


def test_builtin_and_custom_metrics_are_priced_on_their_own_evaluators(prices):
    suite = make_suite()
    at(suite, *CUSTOM_JUDGE)["modelIdentifier"] = "anthropic.claude-3-haiku-20240307-v1:0"
    estimate = estimate_run(suite, measure(records(3)), prices)
    builtin, custom = estimate.items[1], estimate.items[2]
    assert (builtin.model, builtin.metrics) == (JUDGE, 2)
    assert (custom.model, custom.metrics) == ("anthropic.claude-3-haiku-20240307-v1:0", 1)
    assert custom.usd == pytest.approx((custom.input_tokens * 0.25 + custom.output_tokens * 1.25) / 1e6)
    assert estimate.total_usd == pytest.approx(builtin.usd + custom.usd)


def test_an_unknown_evaluator_gets_a_note_and_no_number(prices):
    suite = builtin_suite("Builtin.Helpfulness", judge="amazon.nova-premier-v1:0")
    estimate = estimate_run(suite, measure(records(3)), prices)
    assert estimate.items[1].usd is None
    assert estimate.total_usd is None
    assert estimate.per_metric_usd is None
    assert any(
        note.startswith("no price for amazon.nova-premier-v1:0: add it to prices.json")
        for note in estimate.notes
    )
    assert (estimate.items[1].no_usd_because, estimate.no_total_because) == (
        NoUsdBecause.NO_PRICE,
        (NoUsdBecause.NO_PRICE,),
    )
    document = estimate.as_dict()
    assert document["total_usd"] is None
    assert document["items"][1]["usd"] is None


def test_one_unpriced_evaluator_leaves_the_total_unknown_but_prices_the_rest(prices):
    suite = make_suite()
    at(suite, *CUSTOM_JUDGE)["modelIdentifier"] = "mistral.large-v1:0"
    estimate = estimate_run(suite, measure(records(3)), prices)
    assert estimate.items[1].usd > 0
    assert estimate.items[2].usd is None
    assert estimate.total_usd is None


def live_suite(model: str = NOVA_LITE) -> dict[str, Any]:
    suite = make_suite()
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": model}}]}
    return suite


def prompts_only(count: int, prompt: str, reference: str = "") -> bytes:
    return jsonl([line(prompt, reference) for _ in range(count)])


def test_a_live_model_costs_its_prompts_in_and_the_references_length_out(prices):
    # 4 prompts of 400 chars (100 tokens) with references of 800 chars (200 tokens)
    estimate = estimate_run(live_suite(), measure(prompts_only(4, "q" * 400, "a" * 800)), prices)
    collection = estimate.items[0]
    assert (collection.input_tokens, collection.output_tokens) == (400, 800)
    assert collection.usd == pytest.approx((400 * 0.06 + 800 * 0.24) / 1e6)
    assert collection.model == NOVA_LITE
    assert any("reference responses" in a for a in estimate.assumptions)


def test_a_live_model_without_references_assumes_the_response_length_and_says_so(prices):
    estimate = estimate_run(live_suite(), measure(prompts_only(2, "q" * 40)), prices)
    assert estimate.items[0].output_tokens == 2 * 300
    assert any("assumed" in a for a in estimate.assumptions)


def test_a_live_model_without_a_price_leaves_the_total_unknown(prices):
    estimate = estimate_run(live_suite("cohere.command-r-v1:0"), measure(prompts_only(2, "q")), prices)
    assert estimate.items[0].usd is None
    assert estimate.total_usd is None
    assert any("no price for cohere.command-r-v1:0" in note for note in estimate.notes)


def test_the_estimate_states_its_assumptions(prices):
    text = " ".join(estimate_run(make_suite(), measure(records(1)), prices).assumptions)
    for expected in ("characters / 4", "1,200 tokens", "~150 tokens", "~200 tokens", "per 1M tokens"):
        assert expected in text


def test_lines_that_are_not_records_are_left_out_with_a_note(prices):
    data = records(2) + b"not json\n[1, 2]\n\n"
    estimate = estimate_run(make_suite(), measure(data), prices)
    assert estimate.records == 2
    assert any("2 non-blank line(s) are not JSON objects" in note for note in estimate.notes)


def test_human_and_classic_jobs_have_no_judge_cost(prices):
    classic = make_suite()
    classic["evaluationConfig"]["automated"] = {
        "datasetMetricConfigs": [
            {"taskType": "General", "dataset": {"name": "d"}, "metricNames": ["Builtin.Accuracy"]}
        ]
    }
    human = make_suite()
    human["evaluationConfig"] = {"human": {"customMetrics": [{"name": "m", "ratingMethod": "ThumbsUpDown"}],
                                           "datasetMetricConfigs": [{"metricNames": ["m"]}]}}  # fmt: skip
    for suite, word in ((classic, "classic"), (human, "human")):
        estimate = estimate_run(suite, measure(records(2)), prices)
        assert [item.item for item in estimate.items] == ["Response collection"]
        assert estimate.total_usd == 0.0
        assert any(word in note for note in estimate.notes)


def test_as_dict_is_plain_json_with_the_total_the_notification_reads(prices):
    document = estimate_run(make_suite(), measure(records(3)), prices).as_dict()
    assert json.loads(json.dumps(document)) == document
    assert isinstance(document["total_usd"], float)
    assert set(document) == {"total_usd", "currency", "records", "metrics", "items", "per_metric_usd",
                             "assumptions", "notes", "prices"}  # fmt: skip


# --- measuring ------------------------------------------------------------------------------


def test_tap_passes_the_bytes_through_and_measures_them():
    data = records(3, prompt="é" * 10)
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    tapped = DatasetMeasure()
    assert b"".join(tapped.tap(iter(chunks))) == data
    assert tapped == DatasetMeasure.of([data])
    assert (tapped.records, tapped.prompt_chars) == (3, 30)  # characters, not UTF-8 bytes


SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
def test_measuring_arbitrary_bytes_never_raises_and_ignores_chunking(data, size):
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert DatasetMeasure.of(chunks) == DatasetMeasure.of([data])


@SETTINGS
@given(JSON, st.binary(max_size=300))
def test_estimating_arbitrary_suites_and_bytes_never_raises(suite, data):
    prices = load_prices(environ={})
    for candidate in (suite, {"evaluationConfig": {"automated": suite}}, {"inferenceConfig": suite}):
        document = estimate_run(candidate, DatasetMeasure.of([data]), prices).as_dict()
        json.dumps(document, allow_nan=False)
        total = document["total_usd"]
        assert total is None or (math.isfinite(total) and total >= 0)


def test_the_module_examples_run():
    assert all(doctest.testmod(m).failed == 0 for m in (estimate_module, measure_module, prices_module))
