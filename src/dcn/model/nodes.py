"""Expand a site's roles into concrete nodes (hostname, role, MAC, fixed addresses)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from dcn.model.description import NodeSpec, RoleSpec, Site
from dcn.model.roles import ROLES


@dataclass(frozen=True, slots=True)
class Node:
    hostname: str
    role: str
    #: position of the node in its role, as %index% (0-based, TripleO style)
    index: int
    mac: str
    #: True when the MAC was derived by dcn (lab nodes get it set on their interface)
    mac_generated: bool
    fixed: dict[str, str] = field(default_factory=dict)
    ansible_host: str | None = None


def hostname_for(fmt: str, site: str, index: int) -> str:
    return fmt.replace("%stackname%", site).replace("%index%", str(index))


def generated_mac(deployment: str, hostname: str) -> str:
    """A stable locally administered unicast MAC for a node that declared none."""
    digest = hashlib.sha256(f"{deployment}/{hostname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def hostname_format(role_name: str, spec: RoleSpec) -> str:
    """The format a role's generated nodes are named by (``%index%`` added when needed)."""
    role = ROLES.get(role_name)
    fmt = spec.hostname_format or (role.hostname_format if role else "%stackname%-node-%index%")
    if "%index%" not in fmt and spec.size > 1:
        fmt = fmt + "-%index%"
    return fmt


def role_hostnames(
    site: str, role_name: str, spec: RoleSpec
) -> Iterator[tuple[str, NodeSpec | None]]:
    """Each node's hostname, with its listing (None for a generated node): listed first."""
    yield from ((explicit.hostname, explicit) for explicit in spec.nodes)
    fmt = hostname_format(role_name, spec)
    taken = {n.hostname for n in spec.nodes}
    index, generated = len(spec.nodes), 0
    while index < spec.size:
        name = hostname_for(fmt, site, generated)
        generated += 1
        if name in taken:
            continue
        yield name, None
        index += 1


def role_hostname_list(site: str, role_name: str, spec: RoleSpec) -> list[str]:
    """The names `role_hostnames` yields, as a list: a role of generated nodes only is
    named in one comprehension (validation names every node of a fleet)."""
    if spec.nodes:
        return [name for name, _ in role_hostnames(site, role_name, spec)]
    stem = hostname_format(role_name, spec).replace("%stackname%", site)
    return [stem.replace("%index%", str(index)) for index in range(spec.size)]


def expand(site: Site, deployment: str) -> list[Node]:
    """Nodes of `site`, roles in declared order, explicit nodes first then generated ones."""
    nodes: list[Node] = []
    for role_name, spec in site.roles.items():
        for index, (name, explicit) in enumerate(role_hostnames(site.name, role_name, spec)):
            if explicit is None:
                nodes.append(
                    Node(name, role_name, index, generated_mac(deployment, name), True, {}, None)
                )
                continue
            nodes.append(
                Node(
                    hostname=name,
                    role=role_name,
                    index=index,
                    mac=explicit.mac or generated_mac(deployment, name),
                    mac_generated=explicit.mac is None,
                    fixed=dict(explicit.addresses),
                    ansible_host=explicit.ansible_host,
                )
            )
    return nodes
