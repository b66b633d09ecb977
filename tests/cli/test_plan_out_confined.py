"""`dcn plan --out DIR --dry-run` with a hostile hostname_format: an error at its line,
nothing written anywhere (issue 8: '../' or a leading '/' wrote outside DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "examples" / "dcn-basic.yaml").read_text()
_SCRIPT = Path(sys.executable).with_name("dcn")
DCN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "dcn.cli"]
ROLES = "DistributedCompute: {count: 1}\n      DistributedComputeScaleOut: {count: 0}"


@pytest.mark.parametrize("fmt", ["../../escaped-%index%", "/tmp/dcn-escape-%index%/x"])
def test_hostile_hostname_format_writes_nothing(tmp_path: Path, fmt: str) -> None:
    work = tmp_path / "work"
    out = work / "out"
    work.mkdir()
    desc = work / "dcn.yaml"
    desc.write_text(
        EXAMPLE.replace(ROLES, f"DistributedCompute: {{count: 2, hostname_format: '{fmt}'}}")
    )
    line = next(i for i, x in enumerate(desc.read_text().splitlines(), 1) if "hostname_format" in x)
    before = set(tmp_path.rglob("*"))
    env = {**os.environ, "DCN_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "300"}
    env.pop("DCN_FILE", None)
    proc = subprocess.run(
        [*DCN, "-f", str(desc), "plan", "--out", str(out), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=120,
    )
    both = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in both, both
    assert f"dcn.yaml:{line}" in both and "DCN107" in both, both
    assert not out.exists()
    created = {p for p in set(tmp_path.rglob("*")) - before if "state" not in p.parts}
    assert not created, created
    assert not Path("/tmp/dcn-escape-0").exists()
