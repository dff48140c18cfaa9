"""Numbers the README quotes that the code produces: kept true by the code, not by hand."""

from __future__ import annotations

import re
from pathlib import Path

from tests.infra.conftest import Synth

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_quotes_the_templates_resource_count(synth: Synth) -> None:
    # The demo's sample output says how many resources the stack deployed (the template's count)
    [quoted] = re.findall(r"CREATE_COMPLETE, (\d+) resources", README.read_text(encoding="utf-8"))
    assert int(quoted) == len(synth.json["Resources"])
