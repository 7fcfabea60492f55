"""The docs live in the repository: no tracked document sends readers outside it (the design
used to be ``../shared/DESIGN.md``), and every relative link and anchor resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_PATH_RE = re.compile(r"`([^`\s]+)`")
UP_RE = re.compile(r"(?<![\w.])((?:\.\./)+[\w./-]+)")
EXTERNAL = ("http://", "https://", "mailto:")


def tracked_docs() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout
        paths = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a checkout (an unpacked archive)
        paths = [p for p in ROOT.rglob("*.md") if not {".venv", "node_modules"} & set(p.parts)]
    return [p for p in paths if "node_modules" not in p.parts]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


def problems_of(doc: Path, root: Path = ROOT) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    found: list[str] = []
    tracked_names = {p.name for p in tracked_docs()}

    def inside(path: Path) -> bool:
        return path.resolve().is_relative_to(root)

    for match in LINK_RE.finditer(text):
        target = match.group(1)
        if target.startswith(EXTERNAL):
            continue
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part) if file_part else doc
        if not inside(path):
            found.append(f"{target}: outside the repository")
        elif not path.exists():
            found.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            found.append(f"{target}: no such heading")
    for match in UP_RE.finditer(text):
        if not inside(doc.parent / match.group(1)):
            found.append(f"{match.group(1)}: outside the repository")
    for match in CODE_PATH_RE.finditer(text):
        name = match.group(1)
        if name.endswith(".md") and "/" not in name and name not in tracked_names:
            found.append(f"{name}: not a document of this repository")
    return found


@pytest.mark.parametrize("doc", tracked_docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_point_only_inside_the_repository(doc: Path) -> None:
    assert problems_of(doc) == []


def test_the_check_finds_what_it_must(tmp_path: Path) -> None:
    (tmp_path / "repo" / "docs").mkdir(parents=True)
    bad = tmp_path / "repo" / "docs" / "x.md"
    bad.write_text("See `../../shared/DESIGN.md`, [the design](../../shared/DESIGN.md),\n"
                   "`DESIGN.md`, [gone](nothing-here.md), [anchor](#nowhere), [fine](#here).\n# Here\n",
                   encoding="utf-8")
    found = problems_of(bad, root=tmp_path / "repo")
    assert "../../shared/DESIGN.md: outside the repository" in found
    assert not any("#here" in p for p in found)
    assert any("DESIGN.md: not a document" in p for p in found)
    assert any("nothing-here.md: no such file" in p for p in found)
    assert any("#nowhere: no such heading" in p for p in found)


def test_the_core_documents_are_there() -> None:
    for name in ("design.md", "threat-model.md", "formats.md", "request.schema.json", "platform-api.yaml",
                 "admin.md"):
        assert (ROOT / "docs" / name).is_file(), name
