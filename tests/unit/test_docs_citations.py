"""Every ``docs/<file>.md §<section>`` a source cites exists, and nothing cites facts outside the
repository.

Sources (code, tests, benches, fixtures, top-level files) must cite ``docs/<file>.md``; a ``§``
belongs to the nearest ``docs/<file>.md`` before it in the same paragraph (or to an ``issue N``).
Inside ``docs/``, a ``§`` right after a link or file name belongs to that file, any other to the
page itself. A section exists when a heading starts with its number (``## 7.``, ``### 7.5``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
THIS_FILE = Path(__file__).resolve()

SCANNED_SUFFIXES = {".py", ".md", ".cfg", ".toml", ".txt", ".sh", ".ini", ".html"}
SKIPPED_DIRS = {"__pycache__", "node_modules", "build", "dist", "fusion-bridge-files"}

HEADING = re.compile(r"^#{1,6}\s+§?(\d+(?:\.\d+)*)\.?(?:\s|$)", re.MULTILINE)
SECTION_NUMBER = re.compile(r"\d+(?:\.\d+)*")
# One § item, possibly a range: "§7.5", "§7.1–§7.3", "§4.1–4.3".
SECTION_ITEM = r"§\s?\d+(?:\.\d+)*(?:\s?[–-]\s?§?\d+(?:\.\d+)*)?"
SECTION = re.compile(SECTION_ITEM)

# In sources: what a § can belong to.
SOURCE_REFERENCE = re.compile(r"docs/(?P<name>[\w.-]+?\.md)\b|\bissue\s+\d+")
# Research files by their bare or out-of-repository name, and paths out of the repository.
RESEARCH_NAMES = (r"plugin-semantics|protocol-agent|agent-protocol|schema|perf-anchors|performance-baselines"
                  r"|successors|glpi10-glpiinventory")
BARE_RESEARCH = re.compile(rf"(?<![\w/.-])(?:{RESEARCH_NAMES})\.md\b"
                           r"|(?<![\w/.-])(?:plugin-semantics|protocol-agent)\b")
OUTSIDE = re.compile(r"shared/(?:research|recorded)|\bresearch/[\w-]+\.md|\.\./shared")

# In docs: a file (link target or plain name) directly followed by its sections.
DOC_REFERENCE = re.compile(
    rf"(?:\]\((?P<link>[\w.-]+\.md)(?:#[\w-]*)?\)|(?<![\w./-])(?:docs/)?(?P<name>[\w-]+\.md)\b)"
    rf"(?P<sections>(?:\s*(?:,|;|and)?\s*{SECTION_ITEM})*)"
)
DOC_LINK = re.compile(r"\]\((?P<target>[^)#\s]+\.md)(?:#[^)]*)?\)")

MAX_GAP = 300  # characters between a docs/ reference and a § that belongs to it


def sections_of(page: Path) -> set[str]:
    return set(HEADING.findall(page.read_text(encoding="utf-8")))


def line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def section_numbers(item: str) -> list[str]:
    """"§7.1–§7.3" → ["7.1", "7.3"]: both ends of a range must exist."""
    return SECTION_NUMBER.findall(item)


def missing(docs: Path, name: str, numbers: list[str], where: str) -> list[str]:
    page = docs / name
    if not page.is_file():
        return [f"{where}: cites {name}, which is not in docs/"]
    known = sections_of(page)
    return [f"{where}: cites {name} §{n}, which has no such section" for n in numbers if n not in known]


def check_source(text: str, where: str, docs: Path = DOCS) -> list[str]:
    """Problems with the citations of one source file (anything outside docs/)."""
    problems = []
    for match in OUTSIDE.finditer(text):
        problems.append(f"{where}:{line_of(text, match.start())}: points outside the repository: "
                        f"{match.group(0)!r} (cite docs/ instead)")
    for match in BARE_RESEARCH.finditer(text):
        problems.append(f"{where}:{line_of(text, match.start())}: cites {match.group(0)!r} without "
                        f"docs/ (write docs/<file>.md §<section>)")
    references = list(SOURCE_REFERENCE.finditer(text))
    for match in references:
        if match.group("name"):
            page = docs / match.group("name")
            if not page.is_file():
                problems.append(f"{where}:{line_of(text, match.start())}: cites docs/{match.group('name')}, "
                                f"which does not exist")
    for item in SECTION.finditer(text):
        before = [ref for ref in references if ref.end() <= item.start()]
        owner = before[-1] if before else None
        gap = text[owner.end():item.start()] if owner else ""
        if owner is None or len(gap) > MAX_GAP or re.search(r"\n\s*\n", gap):
            problems.append(f"{where}:{line_of(text, item.start())}: {item.group(0)} does not say which "
                            f"document it is in (write docs/<file>.md {item.group(0)})")
            continue
        if owner.group("name"):
            problems += missing(docs, owner.group("name"), section_numbers(item.group(0)),
                                f"{where}:{line_of(text, item.start())}")
    return problems


def check_doc(page: Path, docs: Path = DOCS) -> list[str]:
    """Problems with the cross-references inside one docs/ page."""
    text = page.read_text(encoding="utf-8")
    where = f"docs/{page.name}"
    problems = []
    for match in OUTSIDE.finditer(text):
        problems.append(f"{where}:{line_of(text, match.start())}: points outside the repository: "
                        f"{match.group(0)!r}")
    for match in DOC_LINK.finditer(text):
        target = match.group("target")
        if "/" not in target and not (docs / target).is_file():
            problems.append(f"{where}:{line_of(text, match.start())}: links to {target}, not in docs/")
    attributed = []
    for match in DOC_REFERENCE.finditer(text):
        if not match.group("sections"):
            continue
        name = match.group("link") or match.group("name")
        numbers = [n for item in SECTION.findall(match.group("sections")) for n in section_numbers(item)]
        problems += missing(docs, name, numbers, f"{where}:{line_of(text, match.start())}")
        attributed.append(match.span("sections"))
    own = sections_of(page)
    for item in SECTION.finditer(text):
        if any(start <= item.start() < end for start, end in attributed):
            continue
        problems += [f"{where}:{line_of(text, item.start())}: §{n} is not a section of this page"
                     for n in section_numbers(item.group(0)) if n not in own]
    return problems


def source_files() -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        here = Path(directory)
        subdirectories[:] = sorted(
            name for name in subdirectories
            if not name.startswith(".") and name not in SKIPPED_DIRS and not name.endswith(".egg-info")
            and here / name != DOCS and here / name != ROOT / "fixtures" / "cases"
        )
        found += [here / name for name in sorted(files)
                  if Path(name).suffix in SCANNED_SUFFIXES and (here / name).resolve() != THIS_FILE]
    return found


def test_the_docs_folder_has_an_index_of_every_page():
    pages = sorted(page.name for page in DOCS.glob("*.md"))
    assert "README.md" in pages
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    unlisted = [name for name in pages if name != "README.md" and f"]({name})" not in index]
    assert not unlisted, f"docs/README.md does not link to: {', '.join(unlisted)}"


def test_every_citation_in_the_sources_resolves():
    files = source_files()
    assert any(path.suffix == ".py" for path in files), "no source file found: wrong repository root?"
    problems = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += check_source(text, str(path.relative_to(ROOT)))
    assert not problems, f"{len(problems)} broken citation(s):\n" + "\n".join(problems)


def test_every_cross_reference_inside_the_docs_resolves():
    problems = [problem for page in sorted(DOCS.glob("*.md")) for problem in check_doc(page)]
    assert not problems, f"{len(problems)} broken reference(s):\n" + "\n".join(problems)


def test_the_checker_catches_what_it_should(tmp_path):
    (tmp_path / "plugin-semantics.md").write_text("# title\n\n## 7. Modules\n\n### 7.5 Deploy\n",
                                                  encoding="utf-8")
    good = ('"""Deploy (docs/plugin-semantics.md §7.5, §7) and the operator view (issue 4 §7)."""\n'
            "# ranges too: docs/plugin-semantics.md §7–§7.5\n")
    assert check_source(good, "good.py", tmp_path) == []
    bad = {
        '"""(docs/plugin-semantics.md §7.6)."""': "no such section",
        '"""(docs/missing.md §1)."""': "does not exist",
        '"""(plugin-semantics.md §7.5)."""': "without docs/",
        '"""(research/schema.md §3)."""': "outside the repository",
        "# see /work/shared/research/protocol-agent.md": "outside the repository",
        '"""In the plugin\'s format (§7.5)."""': "does not say which document",
        '"""docs/plugin-semantics.md §7.5\n\nand later §7."""': "does not say which document",
    }
    for text, expected in bad.items():
        problems = check_source(text, "bad.py", tmp_path)
        assert any(expected in problem for problem in problems), (text, problems)

    page = tmp_path / "plugin-semantics.md"
    page.write_text("# t\n\n## 1. One\n\nSee §1 and §2, [other.md](other.md) §3.\n", encoding="utf-8")
    (tmp_path / "other.md").write_text("# o\n\n## 3. Three\n", encoding="utf-8")
    problems = check_doc(page, tmp_path)
    assert len(problems) == 1 and "§2 is not a section" in problems[0], problems
