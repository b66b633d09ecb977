"""Plans of the example descriptions are what they were when the golden file was made.

`tests/fixtures/plan-golden.json` holds, per description, site and node, a sha256 of
every rendered file with its mode and owner, each unit's dirs, steps, processes and
packages, each stack's secrets and outputs, and the tables derived from the service
catalog (see `tests.services.plan_golden`). A refactor of the services must leave it
as it is. Regenerate it only for an intended change of rendered output:

    .venv/bin/python -m tests.services.plan_golden

and say in the commit which files changed and why.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.services.plan_golden import GOLDEN, dumps, snapshot


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return json.loads(dumps(snapshot()))


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Paths where two JSON values differ (a readable failure, not a 200 kB diff)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = [f"{where}/{k}: only in the golden file" for k in old.keys() - new.keys()]
        out += [f"{where}/{k}: not in the golden file" for k in new.keys() - old.keys()]
        for key in old.keys() & new.keys():
            out += _differences(old[key], new[key], f"{where}/{key}")
        return sorted(out)
    if old != new:
        return [f"{where}: {json.dumps(old)[:200]} -> {json.dumps(new)[:200]}"]
    return []


def test_every_example_is_in_the_golden_file(golden: dict[str, Any]) -> None:
    assert "examples/dcn-basic.yaml" in golden["descriptions"]


@pytest.mark.parametrize("part", ["descriptions", "catalog"])
def test_plans_match_the_golden_file(
    golden: dict[str, Any], current: dict[str, Any], part: str
) -> None:
    differences = _differences(golden[part], current[part], part)
    assert not differences, "\n".join(differences[:40])


def test_the_snapshot_is_deterministic(current: dict[str, Any]) -> None:
    assert json.loads(dumps(snapshot())) == current
