"""`dcn drill show|compare --plot FILE`: the picture of a stored drill, or a clear error."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dcn.state import Store
from tests.pictures.test_timeline import PNG_SIGNATURE, report

ROOT = Path(__file__).resolve().parents[2]


def dcn(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCN_STATE_DIR": str(state), "COLUMNS": "200"}
    env["DCN_FILE"] = str(ROOT / "examples" / "dcn-basic.yaml")
    return subprocess.run(
        [sys.executable, "-m", "dcn.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=state.parent,
    )


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, int, int]:
    """A state store with two drills of the example's deployment: one with marks, one
    written before drills recorded them."""
    state = tmp_path / "state"
    old = report(scenario="db-outage")
    del old["marks"]
    with Store.open(state) as store:
        first = store.add_drill("lab", "edge-site-loss", False, report())
        second = store.add_drill("lab", "db-outage", True, old)
    return state, first, second


def ids(path: Path) -> set[str]:
    return {e.get("id") or "" for e in ET.parse(path).getroot().iter()}


def test_show_plot_writes_the_svg_or_png_by_suffix(stored: tuple[Path, int, int]) -> None:
    state, first, second = stored
    svg = state.parent / "drill.svg"
    proc = dcn(state, "drill", "show", str(first), "--plot", str(svg))
    assert proc.returncode == 0, proc.stderr
    assert f"picture: {svg}" in proc.stdout and "healed dcn0's uplink" in proc.stdout
    assert {"fault-0", "probes-ok", "compute-0-down", "claim-0"} <= ids(svg)
    assert stat.S_IMODE(svg.stat().st_mode) == 0o644
    text = svg.read_text()
    assert f"drill {first}: edge-site-loss" in text and "<script" not in text
    png = state.parent / "old.PNG"
    proc = dcn(state, "drill", "show", str(second), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_compare_plot_draws_both(stored: tuple[Path, int, int]) -> None:
    state, first, second = stored
    out = state.parent / "both.svg"
    proc = dcn(state, "drill", "compare", str(first), str(second), "--plot", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {"fault-0", "second-fault-0", "probes-ok"} <= ids(out)
    assert "second-probes-ok" not in ids(out)  # the old report has no probes to draw


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("show", "{first}", "--plot", "{dir}/drill.pdf"), "--plot takes FILE.svg or FILE.png"),
        (("show", "{first}", "--plot", "{dir}/drill"), "no suffix"),
        (("compare", "{first}", "{second}", "--plot", "{dir}/both.png"), "--plot takes FILE.svg"),
        (("show", "{first}", "--plot", "{dir}/missing/drill.svg"), "is not a directory"),
        (("show", "999", "--plot", "{dir}/drill.svg"), "no drill 999"),
    ],
)
def test_a_bad_plot_is_a_clear_error_before_anything_is_written(
    stored: tuple[Path, int, int], args: tuple[str, ...], says: str
) -> None:
    state, first, second = stored
    argv = [a.format(first=first, second=second, dir=state.parent) for a in args]
    proc = dcn(state, "drill", *argv)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and says in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "internal error" not in proc.stderr
    assert "--plot" in proc.stderr or "drill" in proc.stderr
    assert proc.stdout == ""  # refused before printing the report
    assert sorted(p.name for p in state.parent.iterdir()) == ["state", "state.key"]
