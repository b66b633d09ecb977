"""Planning many sites against recorded state: incremental, sticky, stale-aware."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcn.model.description import parse
from dcn.model.loader import load_yaml
from dcn.plan.diff import diff_plans
from dcn.plan.engine import Planner
from dcn.plan.serialize import plan_from_json, plan_to_json
from dcn.plan.types import SECRET_PREFIX
from dcn.state.store import Store

ROOT = Path(__file__).resolve().parents[2]


def example(**changes: object) -> dict:
    data = load_yaml(ROOT / "examples" / "dcn-basic.yaml").data
    for path, value in changes.items():
        site, role = path.split(".")
        for s in data["sites"]:
            if s["name"] == site:
                s["roles"][role] = value
    return data


#: a third edge whose leaves lie inside the example's supernets
DCN2 = {
    "name": "dcn2",
    "kind": "edge",
    "roles": {"DistributedCompute": {"count": 1}},
    "networks": {
        "ctlplane": {"cidr": "198.18.3.0/24", "gateway": "198.18.3.1"},
        "internal_api": {"cidr": "198.18.19.0/24", "gateway": "198.18.19.1"},
        "tenant": {"cidr": "fd00:dc:1:3::/64", "gateway": "fd00:dc:1:3::1"},
        "storage": {"cidr": "198.18.35.0/24", "gateway": "198.18.35.1"},
    },
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(state_dir=tmp_path / "state")


def test_first_plan_records_every_site(store: Store) -> None:
    results = Planner(parse(example()), store).plan()
    assert [r.site for r in results] == ["central", "dcn0", "dcn1"]
    assert all(r.changed and r.generation == 1 for r in results)
    central = results[0].plan
    assert central.outputs is not None and central.consumed_export is None
    for edge in results[1:]:
        assert edge.plan.consumed_export.digest == central.outputs.digest()
        assert edge.plan.consumed_export.generation == 1


def test_second_plan_changes_nothing(store: Store) -> None:
    dep = parse(example())
    Planner(dep, store).plan()
    again = Planner(dep, store).plan()
    assert [r.changed for r in again] == [False, False, False]
    assert [r.generation for r in again] == [1, 1, 1]


def test_scaling_one_edge_replans_only_it_and_keeps_addresses(store: Store) -> None:
    first = {r.site: r.plan for r in Planner(parse(example()), store).plan()}
    dep = parse(example(**{"dcn0.DistributedCompute": {"count": 3}}))
    results = {r.site: r for r in Planner(dep, store).plan()}
    assert {s for s, r in results.items() if r.changed} == {"dcn0"}
    new = results["dcn0"].plan
    old_node = first["dcn0"].nodes[0]
    assert new.nodes[0].addresses == old_node.addresses
    assert len(new.nodes) == 3
    changes = diff_plans(first["dcn0"], new)
    added = [c.subject for c in changes if c.action == "add"]
    assert added == ["node dcn0-distributedcompute-1", "node dcn0-distributedcompute-2"]
    assert results["dcn0"].generation == 2


def test_planning_an_edge_alone_uses_recorded_outputs(store: Store) -> None:
    dep = parse(example())
    with pytest.raises(Exception, match="no recorded plan"):
        Planner(dep, store).plan(["dcn1"])
    Planner(dep, store).plan(["central"])
    [only] = Planner(dep, store).plan(["dcn1"])
    assert only.site == "dcn1" and only.changed


def test_unknown_site_names_the_known_ones(store: Store) -> None:
    with pytest.raises(Exception) as exc:
        Planner(parse(example()), store).plan(["dcn9"])
    assert "dcn9" in str(exc.value) and "dcn0" in exc.value.hint


def test_plans_hold_references_not_values_and_round_trip(store: Store) -> None:
    results = Planner(parse(example()), store).plan()
    values = store.get_secrets("lab").values()
    for r in results:
        text = plan_to_json(r.plan)
        assert SECRET_PREFIX in text
        assert not any(v in text for v in values)
        assert plan_from_json(text) == r.plan


def test_edge_secrets_are_least_privilege(store: Store) -> None:
    results = {r.site: r.plan for r in Planner(parse(example()), store).plan()}
    edge = set(results["dcn0"].secrets)
    assert "RabbitPassword" in edge
    forbidden = {"MysqlRootPassword", "KeystoneFernetKey0", "AdminPassword", "RabbitCookie"}
    assert not edge & forbidden
    assert not any(s.endswith("DbPassword") for s in edge)
    assert forbidden <= set(results["central"].secrets)


def test_edge_hosts_file_lists_control_plane(store: Store) -> None:
    results = {r.site: r.plan for r in Planner(parse(example()), store).plan()}
    hosts = results["dcn0"].nodes[0].files["/etc/hosts"].content
    assert "central-controller-0" in hosts and "dcn0-distributedcompute-0" in hosts
    assert "dcn1-" not in hosts


def test_a_deployment_wide_setting_replans_every_site_it_reaches(store: Store) -> None:
    """Liveness lives outside the sites; changing it must still reach every nova.conf."""
    Planner(parse(example()), store).plan()
    data = example()
    data["liveness"] = {"report_interval": 2, "service_down_time": 6}
    results = {r.site: r for r in Planner(parse(data), store).plan()}
    assert all(r.changed and r.generation == 2 for r in results.values())
    for r in results.values():
        conf = next(iter(r.plan.nodes)).files["/etc/nova/nova.conf"].content
        assert "report_interval = 2" in conf


def test_adding_an_edge_inside_the_supernets_makes_no_control_plane_generation(
    store: Store,
) -> None:
    """The control plane's content does not change for a new leaf its supernet routes cover."""
    Planner(parse(example()), store).plan()
    data = example()
    data["sites"].append(DCN2)
    results = {r.site: r for r in Planner(parse(data), store).plan()}
    assert results["central"].changed is False and results["central"].generation == 1
    assert results["dcn2"].changed and results["dcn2"].generation == 1


def test_same_content_from_new_inputs_is_not_planned_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New inputs that re-plan a site to the same content move its recorded input digest
    on, so the next plan skips the site instead of planning it again (and again)."""
    import dcn.plan.engine as engine

    Planner(parse(example()), store).plan()
    data = example()
    data["sites"].append(DCN2)
    first = {r.site: r for r in Planner(parse(data), store).plan()}
    assert first["central"].changed is False
    assert store.latest_generation("lab", "central").input_digest == (
        first["central"].plan.input_digest
    )
    calls: list[str] = []
    real = engine.plan_control_plane
    monkeypatch.setattr(
        engine, "plan_control_plane", lambda *a, **k: calls.append("cp") or real(*a, **k)
    )
    again = {r.site: r for r in Planner(parse(data), store).plan()}
    assert calls == [] and again["central"].generation == 1


def test_an_edge_planned_from_the_frame_equals_one_planned_from_every_site(store: Store) -> None:
    """The planner plans an edge with the deployment-wide settings and the control plane
    only (the Fleet's frame): an edge never looks at other edges, so the plan is the one
    the whole deployment gives, byte for byte. The example's edges route by gateway
    (no supernet), so the control plane's leaves reach their plans."""
    from dcn.model.fleet import Fleet
    from dcn.plan.serialize import encode_plan
    from dcn.plan.stack import plan_edge

    dep = parse(example())
    fleet = Fleet.of(dep)
    [cp] = Planner(dep, store).plan(["central"])
    outputs, version = cp.plan.outputs, cp.plan.consumed_export
    source = Planner(dep, store).recorded_control_plane()
    for site in dep.edges:
        whole = plan_edge(dep, site, source.outputs, source.version)
        framed = plan_edge(fleet.frame, site, source.outputs, source.version)
        assert encode_plan(framed) == encode_plan(whole)
    assert outputs is not None and version is None
