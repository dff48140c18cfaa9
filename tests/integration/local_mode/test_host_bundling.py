"""``-c localMode=true``: the Lambda asset is built for this host (the local mode imports it here)."""

from __future__ import annotations

import os

import pytest

from infra import functions
from infra.application import synthesize
from infra.bundling import PipBundler
from infra.settings import PipelineSettings

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


def test_local_mode_is_off_by_default_and_parsed_from_cli_strings() -> None:
    assert PipelineSettings().local_mode is False
    assert PipelineSettings.model_validate({"localMode": "true"}).local_mode is True
    assert PipelineSettings.model_validate({"localMode": "false"}).local_mode is False


@pytest.mark.slow
@pytest.mark.parametrize(("local_mode", "expected"), [(True, "for_host"), (False, "for_lambda")])
def test_the_asset_bundler_follows_local_mode(monkeypatch, tmp_path, local_mode, expected) -> None:
    # Given a spy on the two bundler factories
    used: list[str] = []
    for name in ("for_host", "for_lambda"):
        original = getattr(PipBundler, name)
        monkeypatch.setattr(
            functions.PipBundler,
            name,
            classmethod(lambda cls, *a, _n=name, _o=original: (used.append(_n), _o(*a))[1]),
        )
    # When the app is synthesized (bundling itself skipped)
    template = synthesize(
        {"localMode": local_mode, "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path / "cdk.out")
    )
    # Then the one code asset was built by the expected bundler, and nothing else changed
    assert used == [expected]
    lambdas = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert {tuple(r["Properties"]["Architectures"]) for r in lambdas} == {("arm64",)}
