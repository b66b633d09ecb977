"""Every file of the bad corpus, through the real `dcn validate`: rule id, file:line, no traceback.

Each file in tests/corpus/bad/ starts with ``# expect: WHAT line N``. WHAT is a rule id
(``DCN001`` for schema errors), or ``syntax`` / ``duplicate-key`` for what the loader
rejects before validation (a `DescriptionError`, exit 2, no rule id).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dcn.errors import Severity
from dcn.validate import RULES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "corpus" / "bad").glob("*.yaml"))
_SCRIPT = Path(sys.executable).with_name("dcn")
DCN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "dcn.cli"]
EXPECT = re.compile(r"^# expect: (DCN\d{3}|[a-z-]+) line (\d+)$")
#: loader errors: the words their message carries instead of a rule id
LOADER = {
    "syntax": "not valid YAML",
    "duplicate-key": "is given twice",
    "ambiguous": "ambiguous: YAML 1.1 reads",
    "alias-bomb": "YAML values (the size limit",
    "include-escape": "climbs out with '..'",
}


def expectation(path: Path) -> tuple[str, int]:
    """The (rule or loader error, line) that the file's first line announces."""
    first = path.read_text().splitlines()[0]
    match = EXPECT.match(first)
    assert match, f"{path.name}: first line must be '# expect: DCNxxx line N', not {first!r}"
    return match[1], int(match[2])


def expected_exit(what: str) -> int:
    """2 for loader errors, 1 when the rule is an error, 0 for a warning alone."""
    if what in LOADER:
        return 2
    return 1 if RULES[what][1] is Severity.ERROR else 0


def test_corpus_covers_the_cases() -> None:
    found = {expectation(p)[0] for p in CORPUS}
    want = {"DCN001", "DCN101", "DCN104", "DCN204", "DCN402", "DCN403", "DCN404"}
    assert {*want, "DCN209", "DCN210", *LOADER} <= found
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_bad_file_is_reported_at_its_line(path: Path, tmp_path: Path) -> None:
    what, line = expectation(path)
    env = {**os.environ, "DCN_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    env.pop("DCN_FILE", None)
    proc = subprocess.run(
        [*DCN, "-f", str(path), "validate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both and "internal error" not in both, both
    assert proc.returncode == expected_exit(what), both
    at = re.compile(rf"{re.escape(path.name)}:{line}\b")
    lines = [x for x in both.splitlines() if at.search(x)]
    assert lines, f"nothing reported at {path.name}:{line}:\n{both}"
    rules = set(re.findall(r"\b(?:error|warning) (DCN\d{3})\b", both))
    if what in LOADER:
        assert any(LOADER[what] in x for x in lines), both
        assert not rules, both
    else:
        assert any(f" {what} " in x for x in lines), both
        assert rules == {what}, f"the file should show only {what}:\n{both}"
