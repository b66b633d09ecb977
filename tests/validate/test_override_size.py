"""Overrides are rendered on every node of a site: their size is bounded (DCN604)."""

from __future__ import annotations

from pathlib import Path

import yaml

from dcn.model.loader import load_yaml
from dcn.validate import validate
from dcn.validate.overrides import MAX_SITE_CHARS, MAX_VALUE_CHARS

ROOT = Path(__file__).resolve().parents[2]


def findings(tmp_path: Path, overrides: dict) -> list:
    data = yaml.safe_load((ROOT / "examples" / "dcn-basic.yaml").read_text())
    data["sites"][1]["config_overrides"] = overrides
    path = tmp_path / "dcn.yaml"
    path.write_text(yaml.safe_dump(data, width=10**6))
    return [f for f in validate(load_yaml(path)).findings if f.rule == "DCN604"]


def test_values_up_to_the_limit_pass(tmp_path: Path) -> None:
    assert findings(tmp_path, {"nova.conf": {"DEFAULT": {"a": "x" * MAX_VALUE_CHARS}}}) == []


def test_many_values_under_the_limit_still_count_for_the_site(tmp_path: Path) -> None:
    count = MAX_SITE_CHARS // 1000 + 1
    options = {f"opt_{i}": "x" * 1000 for i in range(count)}
    found = findings(tmp_path, {"nova.conf": {"DEFAULT": options}})
    assert len(found) == 1
    assert found[0].location.field == "sites[1].config_overrides"
    assert f"{MAX_SITE_CHARS:,}" in found[0].message
