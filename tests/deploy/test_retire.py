"""Which nodes a scale-in retires, from real plans (the retirement itself runs in the
lab's end-to-end test)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dcn.deploy import retire
from dcn.errors import DcnError
from dcn.plan.types import StackPlan
from dcn.workspace import Workspace

BASIC = Path(__file__).resolve().parents[2] / "examples" / "dcn-basic.yaml"


def plans(tmp: Path, computes: int) -> dict[str, StackPlan]:
    data = yaml.safe_load(BASIC.read_text())
    data["sites"][1]["roles"]["DistributedCompute"]["count"] = computes
    tmp.mkdir(parents=True)
    (tmp / "dcn.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    ws = Workspace(tmp / "dcn.yaml", state_dir=tmp / ".dcn")
    return {r.site: r.plan for r in ws.plan(record=False)}


def test_a_scale_in_retires_the_nodes_the_new_plan_drops(tmp_path: Path) -> None:
    three, one = plans(tmp_path / "a", 3), plans(tmp_path / "b", 1)
    gone = retire.removed_nodes(three["dcn0"], one["dcn0"])
    assert [n.hostname for n in gone] == [
        "dcn0-distributedcompute-1",
        "dcn0-distributedcompute-2",
    ]
    retire.refuse_controllers("dcn0", gone)  # computes: allowed
    assert retire.removed_nodes(one["dcn0"], three["dcn0"]) == []  # a scale-out
    assert retire.removed_nodes(None, one["dcn0"]) == []  # never deployed


def test_a_plan_dropping_a_controller_is_refused(tmp_path: Path) -> None:
    central = plans(tmp_path / "a", 1)["central"]
    with pytest.raises(DcnError, match="not computes: central-controller-0"):
        retire.refuse_controllers("central", list(central.nodes))
