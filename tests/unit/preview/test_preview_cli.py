"""`evalpipe preview` on a fake judge: what it prints, its JSON, and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalpipe.cli import main
from evalpipe.cli import preview as command
from tests.unit.preview.fakes import FakeConverse

ROOT = Path(__file__).resolve().parents[3]
SUITE = str(ROOT / "examples/suites/support-assistant.json")
DATASET = str(ROOT / "examples/datasets/support-assistant/sample.jsonl")


def judge(text: str) -> str:
    """Good for confirmation, an unmappable answer for brevity."""
    if "explicit confirmation" in text:
        return '{"reasoning": "It asks before acting.", "rating": "Good"}'
    return '{"reasoning": "Reasonably short.", "rating": "Short enough"}'


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeConverse:
    client = FakeConverse(judge, usage=(1000, 100))
    monkeypatch.setattr(command, "converse_client", lambda region: client)
    return client


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_it_prints_per_record_scores_reasoning_unmappable_answers_the_builtins_and_the_cost(fake, capsys):
    # When two records of the example suite are previewed
    code, out, _ = cli(capsys, "preview", "--suite", SUITE, DATASET, "-n", "2")

    # Then every record shows both metrics, an unmappable answer as written, and the summary and cost
    assert code == 0
    assert "Preview of 2 custom metrics on the first 2 records of" in out
    assert "judge:  amazon.nova-pro-v1:0 (the suite's evaluator model)" in out
    assert "Built-in metrics are not previewed: their judge prompts are Bedrock's own (this suite's:" in out
    assert "Builtin.FollowingInstructions)." in out
    assert out.count("  confirmation_check: 1 (Good)") == 2
    assert out.count("  response_brevity: unmappable") == 2
    assert "the judge answered 'Short enough': no rating of the scale" in out
    assert "reasoning: It asks before acting." in out
    assert "confirmation_check       2    0           0       0  1.00" in out
    assert "response_brevity         0    0           2       0     -" in out
    # 4 calls x (1,000 x 0.80 + 100 x 3.20) / 1M at the bundled Nova Pro price
    assert (
        "Cost of this preview: 4 judge calls, 4,000 input + 400 output tokens (Converse usage), < $0.01"
        in out
    )
    assert len(fake.requests) == 4


def test_json_carries_every_call_with_its_prompt_and_the_cost(fake, capsys):
    code, out, _ = cli(
        capsys, "preview", "--suite", SUITE, DATASET, "-n", "1", "--metric", "confirmation_check", "--json"
    )

    document = json.loads(out)
    assert code == 0
    (result,) = document["results"]
    assert {
        k: result[k] for k in ("line", "turn", "metric", "score", "rating", "value", "not_applicable")
    } == {
        "line": 1,
        "turn": None,
        "metric": "confirmation_check",
        "score": 1.0,
        "rating": "Good",
        "value": 1.0,
        "not_applicable": False,
    }
    assert result["prompt"].startswith("You are evaluating a customer-support assistant")
    assert "Prompt: <prompt>Where is my order BK-10482?</prompt>" in result["prompt"]
    assert document["builtin_metrics_not_previewed"][0] == "Builtin.Helpfulness"
    assert document["cost"] == {
        "calls": 1,
        "input_tokens": 1000,
        "output_tokens": 100,
        "usd": 0.00112,
        "currency": "USD",
        "prices": "evalpipe/data/prices.json (bundled)",
    }
    assert document["judge"] == {"model": "amazon.nova-pro-v1:0", "source": "the suite's evaluator model"}


def test_judge_overrides_the_evaluator_and_show_prompt_prints_what_was_sent(fake, capsys):
    code, out, _ = cli(
        capsys,
        "preview",
        "--suite",
        SUITE,
        DATASET,
        "-n",
        "1",
        "--judge",
        "amazon.nova-lite-v1:0",
        "--show-prompt",
    )
    assert code == 0
    assert {r["modelId"] for r in fake.requests} == {"amazon.nova-lite-v1:0"}
    assert "judge:  amazon.nova-lite-v1:0 (--judge)" in out
    assert '        | - "N/A" [-1]' in out


def test_a_suite_without_custom_metrics_has_nothing_to_preview(fake, capsys):
    code, _, err = cli(
        capsys,
        "preview",
        "--suite",
        str(ROOT / "examples/suites/kb-assistant-rag.json"),
        str(ROOT / "examples/datasets/kb-assistant-rag/sample.jsonl"),
    )
    assert code == 1
    assert "nothing to preview: the suite's job scores no custom metric" in err
    assert "Built-in metrics are not previewed: their judge prompts are Bedrock's own" in err
    assert "Builtin.Correctness, Builtin.Completeness" in err
    assert fake.requests == []


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("Builtin.Helpfulness", "built-in metrics are not previewed"),
        (
            "tone",
            "tone is not a custom metric the suite's job scores (its custom metrics: confirmation_check",
        ),
    ],
)
def test_metric_must_name_a_custom_metric(fake, capsys, metric, message):
    code, _, err = cli(capsys, "preview", "--suite", SUITE, DATASET, "--metric", metric)
    assert code == 2
    assert message in err


def test_a_call_that_fails_for_good_is_shown_and_exits_1(monkeypatch, capsys):
    class Failing:
        def converse(self, **request):
            raise RuntimeError("connection reset")

    monkeypatch.setattr(command, "converse_client", lambda region: Failing())
    code, out, _ = cli(
        capsys, "preview", "--suite", SUITE, DATASET, "-n", "1", "--metric", "confirmation_check"
    )
    assert code == 1
    assert "  confirmation_check: failed" in out
    assert "error: RuntimeError: connection reset" in out
    assert "Cost of this preview: 0 judge calls, 0 input + 0 output tokens" in out


def test_unreadable_dataset_and_suite_are_usage_errors(fake, capsys, tmp_path):
    assert cli(capsys, "preview", "--suite", SUITE, str(tmp_path / "missing.jsonl"))[0] == 2
    assert cli(capsys, "preview", "--suite", str(tmp_path / "missing.json"), DATASET)[0] == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert cli(capsys, "preview", "--suite", str(broken), DATASET)[0] == 1


def test_a_live_inference_suite_is_previewed_with_a_note_that_its_dataset_has_no_responses(
    fake, capsys, tmp_path
):
    suite = json.loads(Path(SUITE).read_text())
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}
    live = tmp_path / "live.json"
    live.write_text(json.dumps(suite))
    dataset = tmp_path / "prompts.jsonl"
    dataset.write_text('{"prompt": "Cancel BK-1, please."}\n')

    code, out, _ = cli(
        capsys, "preview", "--suite", str(live), str(dataset), "--metric", "confirmation_check"
    )

    assert code == 0
    assert "rendered empty (the record has no value): {{prediction}}" in out
    assert "{{prediction}} renders empty: preview a dataset of recorded responses" in out
