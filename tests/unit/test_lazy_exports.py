"""The packages that re-export their modules' names import each on first use, and miss nothing."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["evalpipe.results", "evalpipe.suite"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves_to_its_modules_object(name: str) -> None:
    package = importlib.import_module(name)
    for exported in package.__all__:
        value = getattr(package, exported)
        assert value is not None
        assert vars(package)[exported] is value  # kept: the next access is a plain lookup


@pytest.mark.parametrize("name", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(name: str) -> None:
    package = importlib.import_module(name)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_the_run_model_loads_no_suite_document_and_no_output_parser() -> None:
    # In a fresh interpreter: what a step that only loads and saves runs imports (poll, stop)
    code = (
        "import sys, evalpipe.run.model, evalpipe.aws.runs_table; "
        "print(sorted(m for m in sys.modules if m.startswith(('evalpipe.suite.', 'evalpipe.results.', "
        "'evalpipe.collect'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "evalpipe.suite.document" not in loaded
    assert "evalpipe.collect.targets" not in loaded
    assert "evalpipe.results.output_lines" not in loaded
    assert "evalpipe.results.records" in loaded  # what the runs table does use
