"""Numbers the README and the reference pages quote that the code produces: kept true by the code.

The README's quick start shows a `make demo` transcript; its numbers come from the local mode's
stack and the example files, so they are checked against those here (and the whole transcript
against a real run in tests/e2e/test_demo_transcript.py). docs/deploy.md quotes the defaults of
the deployment's settings.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from infra.settings import PipelineSettings
from local import demo

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEPLOY = ROOT / "docs" / "deploy.md"
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="module")
def local_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The template `make demo` deploys: the local mode's synthesis (its Lambda asset not built)."""
    outdir = demo.synthesize(tmp_path_factory.mktemp("local") / "cdk.out", SKIP_BUNDLING)
    [template] = outdir.glob("*.template.json")
    return json.loads(template.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_readme_quotes_the_local_stacks_resource_count(local_template: dict) -> None:
    # The demo's transcript says how many resources the stack deployed (the template's count)
    [quoted] = re.findall(r"CREATE_COMPLETE, (\d+) resources", README.read_text(encoding="utf-8"))
    assert int(quoted) == len(local_template["Resources"])


def test_the_readme_quotes_the_example_datasets_record_count() -> None:
    dataset = ROOT / "examples" / "datasets" / "support-assistant" / "sample.jsonl"
    records = sum(1 for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip())
    quoted = re.findall(r"(\d+) records\b", README.read_text(encoding="utf-8"))
    assert quoted and {int(number) for number in quoted} == {records}


def test_the_readme_quotes_the_python_the_project_requires() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [minimum] = re.findall(r"^>=(\d+\.\d+)$", requires["requires-python"])
    assert re.findall(r"Python (\d+\.\d+)\+", README.read_text(encoding="utf-8")) == [minimum]


def test_deploy_md_quotes_the_settings_defaults() -> None:
    # Each row of docs/deploy.md's context table gives the default PipelineSettings has
    defaults = PipelineSettings().model_dump(by_alias=True)
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|", DEPLOY.read_text(encoding="utf-8"), re.M)
    assert len(rows) >= 10
    for key, quoted in rows:
        assert quoted == _shown(defaults[key]), key


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, (bool, list)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"
