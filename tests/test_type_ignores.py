"""Every `type: ignore` the type checker is told names its error codes and says on its line why the checker
is wrong there (an untyped library, a stub that misses a Django feature), so none outlives its reason unread."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("mdrportal", "tenants", "incidents", "escalation", "operations", "reports")
IGNORE = re.compile(r"type:\s*ignore(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
REASON = re.compile(r"#\s*\S.{3,}")


def ignores() -> list[tuple[str, int, str]]:
    """(file, line, comment) of every comment holding `type: ignore` in the project's own modules."""
    found = []
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.COMMENT and IGNORE.search(token.string):
                    found.append((str(path.relative_to(ROOT)), token.start[0], token.string))
    return found


def unexplained(comment: str) -> bool:
    match = IGNORE.search(comment)
    assert match is not None
    return not match["codes"] or not REASON.search(match["rest"])


def test_every_type_ignore_names_its_codes_and_says_why() -> None:
    bare = [f"{path}:{line}: {comment}" for path, line, comment in ignores() if unexplained(comment)]
    assert not bare, "type: ignore without codes or a reason on its line:\n" + "\n".join(bare)


def test_the_check_tells_a_reason_from_none() -> None:
    assert unexplained("# type: ignore")
    assert unexplained("# type: ignore[attr-defined]")
    assert unexplained("# type: ignore[attr-defined]  #")
    assert not unexplained("# type: ignore[attr-defined]  # twilio ships no types")
