"""Make neutron's workload networks and nova's flavors match the deploy's spec (runs on
the first controller, with the node's OpenStack venv).

The spec (JSON on stdin, from ``dcn.deploy.networks.spec``) lists provider networks
(a routed network: created with its first segment's provider attributes, then every
other segment added, each segment's subnet bound to it), geneve tenant networks with
one subnet, and flavors. Existing objects are found by name (a segment also by its
physical network, a subnet also by its CIDR: so neutron's unnamed first segment, or a
subnet made by hand, is adopted and named); what neutron or nova can change in place is
updated, what they cannot (a CIDR, a segment's type, physical network or VLAN, a
flavor's size) stops the run with what to do, before anything is changed. Nothing is
ever deleted: objects the spec does not name are listed as kept.

The decisions are pure functions of plain data (``plan_*``); ``main`` reads the cloud
into that data, applies the actions, and reads again until nothing is left to do (a
subnet needs its segment's id, a segment its network's). It prints one JSON line of
what it created and updated, then ``changed`` or ``unchanged`` (Ansible's changed_when).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

#: a network absent: pass 1 creates it, 2 its segments and its first subnet, 3 the
#: other subnets, 4 finds nothing to do
MAX_PASSES = 6

#: what neutron refuses to change on a subnet, and on a segment
SUBNET_FIXED = ("cidr",)
SEGMENT_FIXED = ("network_type", "physical_network", "segmentation_id")
#: what it changes in place
SUBNET_MUTABLE = ("name", "gateway_ip", "allocation_pools", "enable_dhcp")
#: nova never changes a flavor
FLAVOR_FIXED = ("vcpus", "ram", "disk", "is_public")


@dataclass(frozen=True)
class Action:
    """One call to make: create an object, or update the named fields of one."""

    op: str  # "create" | "update"
    kind: str  # "network" | "segment" | "subnet" | "flavor"
    name: str
    attrs: dict[str, Any]
    id: str | None = None

    def describe(self) -> str:
        what = f"{self.kind} {self.name}"
        return what if self.op == "create" else f"{what}: {', '.join(sorted(self.attrs))}"

    def key(self) -> str:
        return json.dumps([self.op, self.kind, self.name, self.attrs], sort_keys=True)


@dataclass(frozen=True)
class Conflict:
    """A difference the service cannot resolve in place: the operator decides."""

    kind: str
    name: str
    field: str
    existing: Any
    wanted: Any
    fix: str
    #: where the wanted value comes from
    source: str = "the description"
    #: the difference in words, where two values do not say it
    detail: str = ""

    def __str__(self) -> str:
        said = self.detail or (
            f"{self.field} is {self.existing!r} in the cloud, {self.wanted!r} in {self.source}"
        )
        return f"{self.kind} {self.name}: {said}; {self.fix}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    #: objects in the cloud that the spec does not name: left as they are
    kept: list[str] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.actions += other.actions
        self.conflicts += other.conflicts
        self.kept += other.kept


# -- comparisons -----------------------------------------------------------------------


def _address(value: Any) -> Any:
    """An address as neutron writes it back (IPv6 compressed), so forms compare equal."""
    if not value:
        return value
    return str(ipaddress.ip_address(value))


def _cidr(value: Any) -> Any:
    return str(ipaddress.ip_network(value, strict=False)) if value else value


def _pools(pools: Any) -> list[tuple[str, str]]:
    return sorted((_address(p["start"]), _address(p["end"])) for p in pools or [])


def _normal(name: str, value: Any) -> Any:
    if name == "cidr":
        return _cidr(value)
    if name == "gateway_ip":
        return _address(value)
    if name == "allocation_pools":
        return _pools(value)
    return value


def _differing(existing: dict[str, Any], wanted: dict[str, Any], names: tuple[str, ...]):
    return [n for n in names if _normal(n, existing.get(n)) != _normal(n, wanted.get(n))]


# -- decisions (pure) --------------------------------------------------------------------


def plan_flavors(wanted: list[dict[str, Any]], existing: list[dict[str, Any]]) -> Plan:
    plan = Plan()
    by_name = {f["name"]: f for f in existing}
    for flavor in wanted:
        have = by_name.get(flavor["name"])
        if have is None:
            plan.actions.append(Action("create", "flavor", flavor["name"], dict(flavor)))
            continue
        for name in _differing(have, flavor, FLAVOR_FIXED):
            fix = (
                "nova cannot change a flavor: delete it "
                f"(openstack flavor delete {flavor['name']}) and deploy again"
            )
            plan.conflicts.append(
                Conflict(
                    "flavor",
                    flavor["name"],
                    name,
                    have.get(name),
                    flavor[name],
                    fix,
                    "dcn's flavors",
                )
            )
    return plan


def _refuse(kind: str, name: str, field_: str, have: Any, want: Any, delete: str) -> Conflict:
    return Conflict(
        kind,
        name,
        field_,
        have,
        want,
        f"neutron cannot change it: delete the {kind} ({delete}) or change the description back",
    )


def _match(
    kind: str,
    wanted: list[dict[str, Any]],
    existing: list[dict[str, Any]],
    same: Any,
    listing: str,
) -> tuple[dict[str, dict[str, Any]], list[Conflict]]:
    """Each wanted object's existing one: by name, else the first unclaimed one that
    ``same`` says is it (an object neutron made unnamed, or one made by hand)."""
    found: dict[str, dict[str, Any]] = {}
    conflicts: list[Conflict] = []
    for want in wanted:
        named = [e for e in existing if e.get("name") == want["name"]]
        if len(named) > 1:
            fix = f"rename or delete all but one ({listing})"
            detail = f"{len(named)} {kind}s of this name in the cloud"
            conflicts.append(
                Conflict(kind, want["name"], "name", len(named), 1, fix, detail=detail)
            )
        if named:
            found[want["name"]] = named[0]
    claimed = {e["id"] for e in found.values()}
    names = {w["name"] for w in wanted}
    for want in wanted:
        if want["name"] in found:
            continue
        have = next(
            (
                e
                for e in existing
                if e["id"] not in claimed and e.get("name") not in names and same(e, want)
            ),
            None,
        )
        if have is not None:
            found[want["name"]] = have
            claimed.add(have["id"])
    return found, conflicts


def match_segments(wanted: list[dict[str, Any]], existing: list[dict[str, Any]], network: str):
    """By name, else by physical network (one site's: neutron's first segment, made
    with the network, has no name)."""
    return _match(
        "segment",
        wanted,
        existing,
        lambda e, w: e.get("physical_network") == w["physical_network"],
        f"openstack network segment list --network {network}",
    )


def match_subnets(wanted: list[dict[str, Any]], existing: list[dict[str, Any]], network: str):
    """By name, else by CIDR."""
    return _match(
        "subnet",
        wanted,
        existing,
        lambda e, w: _cidr(e.get("cidr")) == _cidr(w["cidr"]),
        f"openstack subnet list --network {network}",
    )


def plan_subnet(
    network: dict[str, Any],
    wanted: dict[str, Any],
    have: dict[str, Any] | None,
    segment_id: str | None,
    routed: bool,
) -> Plan:
    """One subnet: created once its segment exists (each subnet of a routed network is
    bound to its segment), else compared with the one found."""
    plan = Plan()
    name = wanted["name"]
    if have is None:
        if routed and segment_id is None:
            return plan  # its segment is created first; the next pass creates it
        attrs = {**wanted, "network_id": network["id"]}
        if routed:
            attrs["segment_id"] = segment_id
        plan.actions.append(Action("create", "subnet", name, attrs))
        return plan
    delete = f"openstack subnet delete {have['id']}"
    for field_ in _differing(have, wanted, SUBNET_FIXED):
        plan.conflicts.append(
            _refuse("subnet", name, field_, have.get(field_), wanted[field_], delete)
        )
    if routed and (segment_id is None or have.get("segment_id") != segment_id):
        # neutron moves a subnet onto a segment only on a network of one segment and
        # one subnet: not the case of a routed network (nor of one whose segment is yet
        # to be created)
        plan.conflicts.append(
            _refuse(
                "subnet",
                name,
                "segment_id",
                have.get("segment_id"),
                segment_id or f"segment {name} (to be created)",
                delete,
            )
        )
    if plan.conflicts:
        return plan
    changes = {n: wanted[n] for n in _differing(have, wanted, SUBNET_MUTABLE)}
    if changes:
        plan.actions.append(Action("update", "subnet", name, changes, have["id"]))
    return plan


def plan_network(wanted: dict[str, Any], state: dict[str, Any]) -> Plan:
    """One network of the spec against what neutron has: ``state`` holds the networks
    of that name dcn could own, and the segments and subnets of the one found."""
    plan = Plan()
    name = wanted["name"]
    networks = state["networks"]
    if len(networks) > 1:
        fix = (
            "dcn cannot tell which one it manages: rename or delete the others "
            f"(openstack network list --name {name})"
        )
        detail = f"{len(networks)} networks of this name in the admin project"
        plan.conflicts.append(
            Conflict("network", name, "name", len(networks), 1, fix, detail=detail)
        )
        return plan
    provider = wanted["kind"] == "provider"
    if not networks:
        attrs: dict[str, Any] = {"name": name, "shared": wanted["shared"]}
        if provider:
            first = wanted["segments"][0]
            attrs["provider:network_type"] = first["network_type"]
            attrs["provider:physical_network"] = first["physical_network"]
            if first["segmentation_id"] is not None:
                attrs["provider:segmentation_id"] = first["segmentation_id"]
        else:
            attrs["provider:network_type"] = wanted["network_type"]
        plan.actions.append(Action("create", "network", name, attrs))
        return plan  # its segments and subnets once it exists
    network = networks[0]
    if network.get("shared") != wanted["shared"]:
        plan.actions.append(
            Action("update", "network", name, {"shared": wanted["shared"]}, network["id"])
        )
    segments, subnets = state["segments"], state["subnets"]
    types = ("vlan", "flat") if provider else (wanted["network_type"],)
    for seg in segments:
        if seg.get("network_type") not in types:
            want = "vlan or flat segments" if provider else wanted["network_type"]
            plan.conflicts.append(
                _refuse(
                    "network",
                    name,
                    "network_type",
                    seg.get("network_type"),
                    want,
                    f"openstack network delete {network['id']}",
                )
            )
    if plan.conflicts:
        return plan
    if provider:
        plan.extend(_plan_routed(network, wanted, segments, subnets))
    else:
        found, conflicts = match_subnets([wanted["subnet"]], subnets, name)
        plan.conflicts += conflicts
        have = found.get(wanted["subnet"]["name"])
        plan.extend(plan_subnet(network, wanted["subnet"], have, None, False))
        plan.kept += _kept("subnet", name, subnets, found)
    return plan


def _kept(kind: str, network: str, existing: list[dict[str, Any]], found: dict) -> list[str]:
    matched = {e["id"] for e in found.values()}
    return [
        f"{kind} {e.get('name') or e['id']} of network {network}"
        for e in existing
        if e["id"] not in matched
    ]


def _plan_routed(
    network: dict[str, Any],
    wanted: dict[str, Any],
    segments: list[dict[str, Any]],
    subnets: list[dict[str, Any]],
) -> Plan:
    """A routed provider network's segments and their subnets."""
    plan = Plan()
    name = wanted["name"]
    found, conflicts = match_segments(wanted["segments"], segments, name)
    plan.conflicts += conflicts
    found_subnets, conflicts = match_subnets(
        [s["subnet"] for s in wanted["segments"]], subnets, name
    )
    plan.conflicts += conflicts
    for seg in wanted["segments"]:
        have = found.get(seg["name"])
        if have is None:
            attrs = {k: seg[k] for k in ("name", *SEGMENT_FIXED) if seg[k] is not None}
            attrs["network_id"] = network["id"]
            plan.actions.append(Action("create", "segment", seg["name"], attrs))
        else:
            bound = [s["id"] for s in subnets if s.get("segment_id") == have["id"]]
            delete = "".join(f"openstack subnet delete {b}, then " for b in bound) + (
                f"openstack network segment delete {have['id']}"
            )
            for field_ in _differing(have, seg, SEGMENT_FIXED):
                plan.conflicts.append(
                    _refuse("segment", seg["name"], field_, have.get(field_), seg[field_], delete)
                )
            if have.get("name") != seg["name"]:
                plan.actions.append(
                    Action("update", "segment", seg["name"], {"name": seg["name"]}, have["id"])
                )
        subnet = seg["subnet"]
        segment_id = have["id"] if have is not None else None
        plan.extend(
            plan_subnet(network, subnet, found_subnets.get(subnet["name"]), segment_id, True)
        )
    plan.kept += _kept("segment", name, segments, found)
    plan.kept += _kept("subnet", name, subnets, found_subnets)
    return plan


def plan_all(spec: dict[str, Any], state: dict[str, Any]) -> Plan:
    """Everything to do now; ``state`` maps each network's name to its state, and holds
    the flavors under ``flavors``."""
    plan = Plan()
    for net in spec["networks"]:
        plan.extend(plan_network(net, state["networks"][net["name"]]))
    plan.extend(plan_flavors(spec["flavors"], state["flavors"]))
    return plan


# -- the cloud (openstacksdk) --------------------------------------------------------------


def read_state(conn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The cloud as plain data: per network of the spec, the networks of its name in the
    admin project (dcn's; a project's own network may share the name), their segments
    and subnets; every flavor (public or not)."""
    project = conn.current_project_id
    networks = {}
    for net in spec["networks"]:
        found = [
            {"id": n.id, "name": n.name, "shared": n.is_shared}
            for n in conn.network.networks(name=net["name"])
            if n.project_id == project
        ]
        state = {"networks": found, "segments": [], "subnets": []}
        if len(found) == 1:
            state["segments"] = [
                {
                    "id": s.id,
                    "name": s.name,
                    "network_type": s.network_type,
                    "physical_network": s.physical_network,
                    "segmentation_id": s.segmentation_id,
                }
                for s in conn.network.segments(network_id=found[0]["id"])
            ]
            state["subnets"] = [
                {
                    "id": s.id,
                    "name": s.name,
                    "cidr": s.cidr,
                    "gateway_ip": s.gateway_ip,
                    "allocation_pools": s.allocation_pools,
                    "enable_dhcp": s.is_dhcp_enabled,
                    "segment_id": s.segment_id,
                }
                for s in conn.network.subnets(network_id=found[0]["id"])
            ]
        networks[net["name"]] = state
    # "none": nova's flavor list with every flavor, public or not (admin)
    flavors = [
        {"name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "is_public": f.is_public}
        for f in conn.compute.flavors(is_public="none")
    ]
    return {"networks": networks, "flavors": flavors}


def apply(conn: Any, action: Action) -> None:
    """One action; the attribute names are the APIs' own (openstacksdk takes them)."""
    net, attrs = conn.network, action.attrs
    calls = {
        ("create", "network"): lambda: net.create_network(**attrs),
        ("update", "network"): lambda: net.update_network(action.id, **attrs),
        ("create", "segment"): lambda: net.create_segment(**attrs),
        ("update", "segment"): lambda: net.update_segment(action.id, **attrs),
        ("create", "subnet"): lambda: net.create_subnet(**attrs),
        ("update", "subnet"): lambda: net.update_subnet(action.id, **attrs),
        ("create", "flavor"): lambda: conn.compute.create_flavor(**attrs),
    }
    calls[(action.op, action.kind)]()


def converge(conn: Any, spec: dict[str, Any]) -> tuple[list[Action], list[str]]:
    """Plan, apply, read again until nothing is left to do; conflicts stop it (before
    any change: every existing object is compared on the first pass)."""
    done: list[Action] = []
    for _ in range(MAX_PASSES):
        plan = plan_all(spec, read_state(conn, spec))
        if plan.conflicts:
            raise Refused(plan.conflicts, done)
        if not plan.actions:
            return done, plan.kept
        applied = {a.key() for a in done}
        again = [a for a in plan.actions if a.key() in applied]
        if again:
            raise Refused([], done, f"the cloud did not keep: {again[0].describe()}")
        for action in plan.actions:
            try:
                apply(conn, action)
            except Exception as exc:  # the SDK's errors carry the API's answer
                raise Refused([], done, f"{action.op} {action.describe()}: {exc}") from exc
            done.append(action)
    raise Refused([], done, f"still changing after {MAX_PASSES} passes")


class Refused(Exception):
    def __init__(self, conflicts: list[Conflict], done: list[Action], why: str = ""):
        self.conflicts, self.done, self.why = conflicts, done, why
        super().__init__(why or "; ".join(map(str, conflicts)))

    def report(self) -> str:
        """Every conflict on a line; the last line (what a deploy shows) the first one."""
        lines = [str(c) for c in self.conflicts]
        made = ", ".join(a.describe() for a in self.done) or "nothing"
        lines.append(f"already done: {made}")
        if self.conflicts:
            more = len(self.conflicts) - 1
            tail = f" (and {more} more, above)" if more else ""
            lines.append(f"{self.conflicts[0]}{tail}")
        else:
            lines.append(self.why)
        return "\n".join(lines)


def summary(done: list[Action], kept: list[str]) -> dict[str, list[str]]:
    return {
        "created": [a.describe() for a in done if a.op == "create"],
        "updated": [a.describe() for a in done if a.op == "update"],
        "kept": kept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", required=True)
    args = parser.parse_args()
    spec = json.load(sys.stdin)
    import openstack  # the node's OpenStack virtualenv

    conn = openstack.connect(cloud=args.cloud)
    try:
        done, kept = converge(conn, spec)
    except Refused as refused:
        sys.exit(refused.report())
    except Exception as exc:  # reading the cloud: the API's answer, after the traceback
        traceback.print_exc()
        sys.exit(f"reading the cloud failed: {type(exc).__name__}: {exc}")
    print(json.dumps(summary(done, kept), sort_keys=True))
    print("changed" if done else "unchanged")


if __name__ == "__main__":
    main()
