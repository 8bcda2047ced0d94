"""The README stays a user's page, and the docs' relative links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

# The first lines a new user copies: install and run the demo, then run the tests.
FIRST_LINES = [
    "# rtgen",
    "",
    '    pip install torch==2.13.0 && pip install -c constraints.txt -e ".[cpu,train,data,dev]"'
    " && rtgen demo -o rtgen-demo",
    "    python -m pytest -q",
]

# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_is_at_most_12_kb() -> None:
    """README.md is a user's page of at most 12 KB; lab notes belong in docs/."""
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes; move lab notes to docs/"


def test_readme_opens_with_the_two_commands() -> None:
    """README.md's first lines are the install-and-demo command and the test command."""
    assert README.read_text().splitlines()[: len(FIRST_LINES)] == FIRST_LINES


def relative_links(page: Path) -> list[str]:
    """Link targets in a markdown page that are files of this repository (no URL, no bare
    anchor), without their #anchor."""
    targets = [m.group(1) for m in LINK.finditer(page.read_text())]
    return [
        t.split("#", 1)[0]
        for t in targets
        if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page: Path) -> None:
    """Every relative link in README.md and docs/*.md names a file or folder that exists."""
    missing = [t for t in relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)}: links to missing files {missing}"


def test_the_link_check_sees_links() -> None:
    """The check is not vacuous: README.md links to the docs pages and an image."""
    links = relative_links(README)
    assert {"docs/performance.md", "docs/reliability.md", "docs/decisions.md"} <= set(links)
    assert "docs/jam.png" in links
