"""docs/rules.md has one row per rule, with the severity the code gives it."""

from __future__ import annotations

import re
from pathlib import Path

from dcn.validate import RULES

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (DCN\d{3}) \| ([a-z0-9-]+) \| (error|warning) \|", re.MULTILINE)


def test_every_rule_has_one_row_in_docs() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    rows = ROW.findall(text)
    ids = [r[0] for r in rows]
    assert sorted(ids) == sorted(RULES), set(ids) ^ set(RULES)
    assert len(ids) == len(set(ids)), "a rule has two rows"
    for rule, name, severity in rows:
        assert (name, severity) == (RULES[rule][0], str(RULES[rule][1])), rule
