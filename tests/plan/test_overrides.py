"""An override of a file that no service of its site renders is reported, not dropped."""

from __future__ import annotations

from pathlib import Path

import yaml

from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def test_an_override_no_node_of_the_site_renders_is_a_notice_at_its_line(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "examples" / "dcn-basic.yaml").read_text())
    data["sites"][1]["config_overrides"] = {
        "nova.conf": {"DEFAULT": {"debug": True}},
        "keystone.conf": {"DEFAULT": {"debug": True}},  # no keystone at an edge
    }
    path = tmp_path / "dcn.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace(path, tmp_path / "state")
    ws.plan(record=False)
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "keystone.conf" in text
    )
    assert ws.notices == [
        f"{path}:{line}:5: config_overrides for keystone.conf are not used: "
        "no service of site dcn0 renders keystone.conf"
    ]
