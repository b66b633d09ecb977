"""Plans to JSON and back; the content digest that decides whether a plan is new."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from dcn.model.description import parse
from dcn.model.loader import load_yaml
from dcn.plan.serialize import encode_plan, plan_from_json, plan_to_json
from dcn.plan.stack import plan_control_plane
from dcn.plan.types import StackPlan, canonical_json

ROOT = Path(__file__).resolve().parents[2]


def central() -> StackPlan:
    dep = parse(load_yaml(ROOT / "examples" / "dcn-basic.yaml").data)
    return plan_control_plane(dep, dep.site("central"))


def test_as_dict_holds_what_dataclasses_asdict_holds() -> None:
    plan = central()
    assert json.loads(canonical_json(plan.as_dict())) == json.loads(
        canonical_json(dataclasses.asdict(plan))
    )


def test_encode_plan_is_the_plan_json_and_the_digest_without_its_inputs() -> None:
    plan = central()
    text, digest = encode_plan(plan)
    assert text == plan_to_json(plan)
    without = plan_to_json(dataclasses.replace(plan, input_digest=""))
    assert digest == "sha256:" + hashlib.sha256(without.encode()).hexdigest()
    # the inputs' digest is no part of the content: another one leaves it equal
    assert encode_plan(dataclasses.replace(plan, input_digest="sha256:x"))[1] == digest
    assert plan_from_json(text) == plan
