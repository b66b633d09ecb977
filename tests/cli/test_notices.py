"""Warnings that are not errors reach the operator: an imported export's loose mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def dcn(*args: str, cwd: Path, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCN_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dcn.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_plan_warns_about_an_export_others_can_read(tmp_path: Path) -> None:
    """An edge-only description consuming a 0644 export: plan works and warns about it."""
    central = tmp_path / "central.yaml"
    central.write_text(EXAMPLE.read_text())
    made = dcn(
        "-f",
        str(central),
        "export",
        "central",
        "-o",
        "export.yaml",
        cwd=tmp_path,
        state=tmp_path / "central-state",
    )
    assert made.returncode == 0, made.stderr
    export = tmp_path / "export.yaml"
    export.chmod(0o644)

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["sites"] = [s for s in doc["sites"] if s["kind"] == "edge"]
    doc["control_plane_export"] = "export.yaml"
    edges = tmp_path / "edges.yaml"
    edges.write_text(yaml.safe_dump(doc))

    result = dcn("-f", str(edges), "plan", cwd=tmp_path, state=tmp_path / "edge-state")
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr
    assert "0644" in result.stderr and "export.yaml" in result.stderr
    assert "Traceback" not in result.stderr
