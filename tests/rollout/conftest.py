"""A planned and deployed example (recorded as deployed, no host), and the same after
a control-plane change its edges have not taken: what rollouts start from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.test_next_steps import EXAMPLE, grow_central, mark_deployed, workspace


@pytest.fixture
def deployed(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "dcn.yaml")
    ws = workspace(tmp_path)
    ws.plan()
    mark_deployed(ws, "central", "dcn0", "dcn1")
    return tmp_path


@pytest.fixture
def stale(deployed: Path) -> Path:
    """Central's outputs changed and deployed: both edges need a deploy."""
    grow_central(deployed)
    ws = workspace(deployed)
    ws.plan(["central"])
    mark_deployed(ws, "central")
    return deployed
