"""The README and the reference pages stay true: links resolve, and what the code defines is quoted as it is.

The numbers the README and docs/deploy.md quote are checked by tests/infra/test_readme_numbers.py,
and the `make demo` transcripts by tests/e2e/test_demo_transcript.py.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from evalpipe.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The pages the README's reference list points into; their links are checked too.
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def _links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_every_page_of_docs_can_be_reached_from_the_readme() -> None:
    # Reference material lives in docs/; the README's reference list leads to every page
    reached, pending = set(), [README.resolve()]
    while pending:
        page = pending.pop()
        if page in reached or page.suffix != ".md" or not page.exists():
            continue
        reached.add(page)
        pending += [(page.parent / target.partition("#")[0]).resolve() for target in _links(page)]
    unreached = [page.name for page in DOCS.glob("*.md") if page.resolve() not in reached]
    assert not unreached


def test_the_readme_states_the_test_command_and_keeps_its_quick_start_short() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make test" in text and "make demo" in text
    # One screen from clone to first alert: the quick start ends before the reference list
    lines = text.splitlines()
    assert lines.index("## Reference") <= 80


def test_cli_md_lists_every_evalpipe_command() -> None:
    [subparsers] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = [line for line in text.split("\n## ")[0].splitlines() if line.startswith("| `")]
    listed = {name for row in table for name in re.findall(r"`([a-z]+)`", row.split("|")[1])}
    assert listed == set(subparsers.choices)
