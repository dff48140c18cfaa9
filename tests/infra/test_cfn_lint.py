"""cfn-lint finds no error (E-level) in the synthesized templates."""

from __future__ import annotations

from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

from tests.infra.conftest import Synth


def _errors(path: str) -> list[str]:
    matches = lint_file(Path(path), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    return [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]


def test_default_template_has_no_cfn_lint_errors(synth: Synth) -> None:
    assert _errors(synth.path) == []


def test_variant_template_has_no_cfn_lint_errors(variant: Synth) -> None:
    assert _errors(variant.path) == []
