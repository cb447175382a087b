"""Every document and module a docstring, comment or doc names is in this repository
(issue 22): ``docs/*.md`` paths, relative Markdown links, and module paths; no reference to a
document outside it (the design, style guide and original spec are copied into docs/)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for pkg in ("engine", "components", "strategies", "replay", "tests", "bench",
                               "examples") for p in (ROOT / pkg).rglob("*.py"))
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md", ROOT / "examples/README.md"]
VERBATIM = {ROOT / "docs/design.md", ROOT / "docs/style.md",
            ROOT / "docs/reference/algospace_spec.md"}  # copies: their paths are the brief's
DOC_PATH = re.compile(r"\bdocs/[\w/.-]+?\.md\b")
MODULE_PATH = re.compile(r"\b(?:engine|components|strategies|replay|bench|examples|tests)/"
                         r"[\w/]+\.py\b")
LINK = re.compile(r"\]\(([^)#:\s]+\.md)(?:#[\w-]+)?\)")
OUTSIDE = re.compile(r"\bDESIGN(?:\.md)? section|\bspec \d+\.\d|\bSTYLE \d|\.\./shared/")


def _text(path):
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SOURCES + [d for d in DOCS if d not in VERBATIM],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_named_files_exist(path):
    text = _text(path)
    named = set(DOC_PATH.findall(text)) | set(MODULE_PATH.findall(text))
    missing = sorted(n for n in named if not (ROOT / n).exists())
    if path.suffix == ".md":
        missing += sorted(link for link in LINK.findall(text)
                          if not (path.parent / link).exists())
    assert not missing, f"{path.relative_to(ROOT)} names files not in the repository: {missing}"


@pytest.mark.parametrize("path", SOURCES + [d for d in DOCS if d not in VERBATIM],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_outside_the_repository(path):
    found = OUTSIDE.findall(_text(path))
    assert not found, f"{path.relative_to(ROOT)} refers outside the repository: {found}"
