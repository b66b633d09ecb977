"""One site's plan: every node's /etc/hosts holds the control plane's names and its own,
so no node's file grows with the number of nodes of its site."""

from __future__ import annotations

from pathlib import Path

from dcn.model.description import Deployment, parse
from dcn.model.loader import load_yaml
from dcn.plan.stack import HOSTS_HEADER, plan_control_plane, plan_edge
from dcn.plan.types import ExportVersion, StackPlan

ROOT = Path(__file__).resolve().parents[2]


def deployment(**roles: dict[str, int]) -> Deployment:
    """The bundled example, with `site.Role={"count": n}` changes."""
    data = load_yaml(ROOT / "examples" / "dcn-basic.yaml").data
    for path, value in roles.items():
        site, role = path.split(".")
        next(s for s in data["sites"] if s["name"] == site)["roles"][role] = value
    return parse(data)


def plans(dep: Deployment) -> dict[str, StackPlan]:
    central = plan_control_plane(dep, dep.site("central"))
    assert central.outputs is not None
    version = ExportVersion("central", 1, central.outputs.digest())
    edges = {
        s.name: plan_edge(dep, s, central.outputs, version) for s in dep.sites if s.kind == "edge"
    }
    return {"central": central, **edges}


def hosts_lines(plan: StackPlan, index: int) -> list[str]:
    content = plan.nodes[index].files["/etc/hosts"].content
    assert content.startswith(HOSTS_HEADER)
    return content[len(HOSTS_HEADER) :].splitlines()


def test_a_nodes_hosts_file_does_not_grow_with_its_site() -> None:
    small = plans(deployment(**{"dcn0.DistributedCompute": {"count": 2}}))["dcn0"]
    large = plans(deployment(**{"dcn0.DistributedCompute": {"count": 200}}))["dcn0"]
    assert len(large.nodes) == 200
    assert hosts_lines(large, 0) == hosts_lines(small, 0)
    last = large.nodes[-1]
    lines = hosts_lines(large, len(large.nodes) - 1)
    # the control plane's names, then the node's canonical and internal_api names
    assert lines[:-2] == list(large.hosts_entries)
    assert lines[-2:] == [
        f"{last.addresses['ctlplane']} {last.hostname}.localdomain {last.hostname}",
        f"{last.addresses['internal_api']} {last.hostname}.internalapi.localdomain "
        f"{last.hostname}.internalapi",
    ]
    assert not any(large.nodes[0].hostname in line for line in lines)
    # the plan's shared entries are the control plane's, whatever the site's size
    assert large.hosts_entries == small.hosts_entries


def test_edge_hosts_name_the_control_plane_and_its_vips() -> None:
    result = plans(deployment())
    central, edge = result["central"], result["dcn0"]
    assert central.outputs is not None
    assert edge.hosts_entries == tuple(central.outputs.hosts_entry)
    text = "\n".join(hosts_lines(edge, 0))
    assert "central-controller-0.internalapi.localdomain" in text
    assert " lab.localdomain lab" in text  # the cloud's public name
    assert "dcn1-" not in text


def test_control_plane_computes_are_not_in_every_hosts_file() -> None:
    central = plans(deployment(**{"central.Compute": {"count": 3}}))["central"]
    computes = [n for n in central.nodes if n.role == "Compute"]
    assert len(computes) == 3
    shared = "\n".join(central.hosts_entries)
    assert "central-controller-0" in shared
    assert not any(n.hostname in shared for n in computes)
    # each compute names itself and the controllers, never a peer compute
    first = "\n".join(hosts_lines(central, central.nodes.index(computes[0])))
    assert computes[0].hostname in first and "central-controller-0" in first
    assert computes[1].hostname not in first
    # a controller's own lines are among the shared ones: listed once
    controller = hosts_lines(central, 0)
    assert len(controller) == len(set(controller)) == len(central.hosts_entries)
