"""`evalpipe estimate`: the guide's cost table, --json, price files, unknown models, bad paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalpipe.cli import main
from evalpipe.estimate.cost import estimate_run, money
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import PRICES_ENV, load_prices
from tests.builders import jsonl
from tests.unit.validation.builders import make_line, make_suite

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SUITE = REPO / "examples" / "suites" / "support-assistant.json"
EXAMPLE_DATASET = REPO / "examples" / "datasets" / "support-assistant" / "sample.jsonl"
BUILTIN_SUITE = REPO / "examples" / "suites" / "qa-builtin-weekly.json"


@pytest.fixture(autouse=True)
def bundled_prices(monkeypatch):
    """The bundled prices unless a test points elsewhere."""
    monkeypatch.delenv(PRICES_ENV, raising=False)


@pytest.fixture
def files(tmp_path):
    def _files(records: list | bytes, suite: dict | bytes | None = None) -> tuple[str, str]:
        suite_path, dataset_path = tmp_path / "suite.json", tmp_path / "data.jsonl"
        suite = make_suite() if suite is None else suite
        suite_path.write_bytes(suite if isinstance(suite, bytes) else json.dumps(suite).encode())
        dataset_path.write_bytes(records if isinstance(records, bytes) else jsonl(records))
        return str(suite_path), str(dataset_path)

    return _files


def price_file(tmp_path: Path, models: dict) -> str:
    path = tmp_path / "my-prices.json"
    path.write_text(json.dumps({"models": models}))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_example_prints_the_guides_table_with_measured_tokens(capsys):
    code, out, err = run(capsys, "estimate", "--suite", str(EXAMPLE_SUITE), str(EXAMPLE_DATASET))
    expected = estimate_run(
        json.loads(EXAMPLE_SUITE.read_text()),
        DatasetMeasure.of([EXAMPLE_DATASET.read_bytes()]),
        load_prices(),
    )
    assert code == 0, err
    assert "(18 records, 8 judged metrics)" in out
    assert "Response collection  none: the dataset carries precomputed responses" in out
    assert "built-in: 18 records x 6 metrics x ~" in out
    assert "custom: 18 records x 2 metrics x ~" in out
    assert "amazon.nova-pro-v1:0 ($0.80 in / $3.20 out per 1M)" in out
    total_line = next(line for line in out.splitlines() if line.startswith("Total per run"))
    assert total_line.endswith(f"~{money(expected.total_usd)}")
    assert "Scaling: each additional run costs" in out
    assert "Assumptions" in out
    assert "characters / 4" in out


def test_json_is_the_estimate_as_plain_json(capsys):
    code, out, _ = run(capsys, "estimate", "--suite", str(EXAMPLE_SUITE), str(EXAMPLE_DATASET), "--json")
    document = json.loads(out)
    assert code == 0
    assert document["records"] == 18
    assert document["metrics"] == 8
    assert document["items"][0] == {
        "item": "Response collection",
        "details": "none: the dataset carries precomputed responses, no model is invoked",
        "usd": 0.0,
        "model": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "metrics": 0,
        "no_usd_because": None,
    }
    assert document["total_usd"] == pytest.approx(sum(item["usd"] for item in document["items"]), abs=1e-6)
    assert 0.05 < document["total_usd"] < 1.0  # 18 records x 8 metrics on nova-pro: tens of cents
    assert document["notes"] == []
    assert document["suite"] == str(EXAMPLE_SUITE)


def test_an_unknown_model_gets_a_clear_note_and_no_made_up_number(capsys, files, tmp_path):
    suite, dataset = files([make_line(), make_line()])
    prices = price_file(tmp_path, {"amazon.nova-lite-v1:0": {"input": 0.06, "output": 0.24}})
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--prices", prices)
    assert code == 0
    assert f"no price for amazon.nova-pro-v1:0: add it to prices.json ({prices})" in " ".join(out.split())
    total_line = next(line for line in out.splitlines() if line.startswith("Total per run"))
    assert total_line.split()[-1] == "unknown"
    assert "No total: a price is missing (add it to the price file) (see the notes)" in " ".join(out.split())
    assert "no number is made up" in out
    assert "built-in datasets" not in out
    assert "Scaling" not in out
    evaluation_rows = [line for line in out.splitlines() if line.startswith("Evaluation job")]
    assert evaluation_rows
    assert all(row.endswith("no price") for row in evaluation_rows)

    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--prices", prices, "--json")
    document = json.loads(out)
    assert document["total_usd"] is None
    assert [item["usd"] for item in document["items"][1:]] == [None, None]


def no_total_text(out: str) -> str:
    """The "No total: ..." explanation, unwrapped."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("No total:"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return " ".join(" ".join(lines[start:end]).split())


def test_builtin_datasets_have_no_total_because_bedrock_sizes_them_not_for_a_missing_price(capsys, files):
    # Given the example suite of built-in datasets only (BoolQ, TriviaQA), every model priced
    suite, dataset = files([make_line()], BUILTIN_SUITE.read_bytes())

    # When estimated
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset)

    # Then the total is unknown because Bedrock sizes built-in datasets, and no price is said missing
    assert code == 0
    assert no_total_text(out) == (
        "No total: built-in datasets are sized by Bedrock and cannot be measured offline "
        "(see the notes); no number is made up."
    )
    assert "price is missing" not in out
    assert "no price" not in out
    # And each built-in row shows an unknown cost, not a missing price
    rows = [line for line in out.splitlines() if line.startswith("Response collection")]
    assert [row.split(":")[0].split()[-1] for row in rows] == ["Builtin.BoolQ", "Builtin.TriviaQA"]
    assert all(row.split()[-1] == "unknown" for row in rows)

    # When the same is asked as JSON / Then the rows say why they have no number
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--json")
    document = json.loads(out)
    assert document["total_usd"] is None
    assert [item["no_usd_because"] for item in document["items"]] == ["builtin_dataset", "builtin_dataset"]


def test_a_suite_of_builtin_datasets_needs_no_dataset_file(capsys):
    # Given the example suite of built-in datasets only, and no dataset file
    # When estimated
    code, out, _ = run(capsys, "estimate", "--suite", str(BUILTIN_SUITE))

    # Then the header says there is nothing to measure and each built-in dataset has its row
    assert code == 0
    assert "dataset:  none (built-in datasets only, sized by Bedrock)" in out
    rows = [line for line in out.splitlines() if line.startswith("Response collection")]
    assert [row.split(":")[0].split()[-1] for row in rows] == ["Builtin.BoolQ", "Builtin.TriviaQA"]

    # When the same is asked as JSON / Then no dataset and no record was measured
    code, out, _ = run(capsys, "estimate", "--suite", str(BUILTIN_SUITE), "--json")
    document = json.loads(out)
    assert (code, document["dataset"], document["records"]) == (0, None, 0)


def test_a_suite_with_a_custom_dataset_still_needs_the_dataset_file(capsys):
    # Given a suite whose dataset is the dropped file / When estimated without one
    code, out, err = run(capsys, "estimate", "--suite", str(EXAMPLE_SUITE))

    # Then it is a usage error that says what to give
    assert (code, out) == (2, "")
    assert "names a custom dataset: give the DATASET.jsonl to measure" in err


def test_a_missing_price_beside_a_builtin_dataset_gives_both_reasons(capsys, files, tmp_path):
    # Given a classic suite whose custom entry runs on a model the price file lacks, plus BoolQ
    document = json.loads(BUILTIN_SUITE.read_text())
    del document["pipeline"]["schedule"]  # a suite with a custom dataset has no schedule
    configs = document["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    configs[1] = {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "faq"},
        "metricNames": ["Builtin.Accuracy"],
    }
    suite, dataset = files([{"prompt": "Is the sky blue?", "referenceResponse": "yes"}], document)
    prices = price_file(tmp_path, {"amazon.nova-pro-v1:0": {"input": 0.8, "output": 3.2}})

    # When estimated
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--prices", prices)

    # Then both reasons are given, in row order (the custom dataset's row comes first)
    assert code == 0
    assert no_total_text(out) == (
        "No total: a price is missing (add it to the price file); built-in datasets are sized by "
        "Bedrock and cannot be measured offline (see the notes); no number is made up."
    )
    # And the custom row lacks a price while BoolQ's cost is unknown
    custom, boolq = [line for line in out.splitlines() if line.startswith("Response collection")]
    assert custom.endswith("no price")
    assert "Builtin.BoolQ" in boolq
    assert boolq.endswith("unknown")


def test_the_environment_variable_points_at_a_price_file(capsys, files, tmp_path, monkeypatch):
    suite, dataset = files([make_line()])
    monkeypatch.setenv(PRICES_ENV, price_file(tmp_path, {"amazon.nova-pro": {"input": 100, "output": 100}}))
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--json")
    document = json.loads(out)
    assert code == 0
    assert document["prices"].endswith("my-prices.json")
    # 1 record x 3 metrics: every token at $100 per 1M
    tokens = sum(item["input_tokens"] + item["output_tokens"] for item in document["items"])
    assert document["total_usd"] == pytest.approx(tokens * 100 / 1e6, rel=1e-3)  # token totals are rounded


def test_prices_option_wins_over_the_environment(capsys, files, tmp_path, monkeypatch):
    suite, dataset = files([make_line()])
    monkeypatch.setenv(PRICES_ENV, str(tmp_path / "absent.json"))
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--json", "--prices",
                       price_file(tmp_path, {"amazon.nova-pro-v1:0": {"input": 1, "output": 1}}))  # fmt: skip
    assert code == 0
    assert json.loads(out)["total_usd"] > 0


def test_a_suite_that_fails_validation_is_estimated_as_written_with_a_note(capsys, files):
    document = make_suite()
    del document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"]
    suite, dataset = files([make_line()], document)
    code, out, _ = run(capsys, "estimate", "--suite", suite, dataset, "--json")
    assert code == 0
    assert any("does not pass validation" in note for note in json.loads(out)["notes"])


@pytest.mark.parametrize(
    ("setup", "expected_code", "stream_text"),
    [
        pytest.param("missing-dataset", 2, "cannot read", id="missing-dataset"),
        pytest.param("missing-suite", 2, "cannot read", id="missing-suite"),
        pytest.param("broken-prices", 2, "not valid JSON", id="broken-price-file"),
        pytest.param("missing-prices", 2, "cannot read price file", id="missing-price-file"),
        pytest.param("suite-not-json", 1, "not valid JSON", id="suite-not-json"),
        pytest.param("suite-not-object", 1, "must be a JSON object", id="suite-not-an-object"),
    ],
)
def test_bad_inputs_exit_with_a_message_on_stderr(capsys, files, tmp_path, setup, expected_code, stream_text):
    suite, dataset = files(
        [make_line()], b"{no" if setup == "suite-not-json" else b"[]" if setup == "suite-not-object" else None
    )
    argv = ["estimate", "--suite", suite, dataset]
    if setup == "missing-dataset":
        argv[-1] = str(tmp_path / "absent.jsonl")
    elif setup == "missing-suite":
        argv[2] = str(tmp_path / "absent.json")
    elif setup == "broken-prices":
        (tmp_path / "broken.json").write_text("{")
        argv += ["--prices", str(tmp_path / "broken.json")]
    elif setup == "missing-prices":
        argv += ["--prices", str(tmp_path / "absent-prices.json")]
    code, out, err = run(capsys, *argv)
    assert code == expected_code
    assert stream_text in err
    assert out == ""


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "estimate", "data.jsonl")
    assert code == 2
    assert "--suite" in err


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (None, "no price"),
        (0.0, "$0.00"),
        (0.004, "< $0.01"),
        (0.005, "$0.01"),
        (0.2149, "$0.21"),
        (1234.5, "$1,234.50"),
    ],
)
def test_money(usd, shown):
    assert money(usd) == shown
