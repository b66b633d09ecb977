"""Expand a site's roles into concrete nodes (hostname, role, MAC, fixed addresses)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from dcn.model.description import Site
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


def expand(site: Site, deployment: str) -> list[Node]:
    """Nodes of `site`, roles in declared order, explicit nodes first then generated ones."""
    nodes: list[Node] = []
    for role_name, spec in site.roles.items():
        role = ROLES.get(role_name)
        fmt = spec.hostname_format or (role.hostname_format if role else "%stackname%-node-%index%")
        if "%index%" not in fmt and spec.size > 1:
            fmt = fmt + "-%index%"
        taken = {n.hostname for n in spec.nodes}
        index = 0
        for explicit in spec.nodes:
            nodes.append(
                Node(
                    hostname=explicit.hostname,
                    role=role_name,
                    index=index,
                    mac=explicit.mac or generated_mac(deployment, explicit.hostname),
                    mac_generated=explicit.mac is None,
                    fixed=dict(explicit.addresses),
                    ansible_host=explicit.ansible_host,
                )
            )
            index += 1
        generated = 0
        while index < spec.size:
            name = hostname_for(fmt, site.name, generated)
            generated += 1
            if name in taken:
                continue
            nodes.append(
                Node(name, role_name, index, generated_mac(deployment, name), True, {}, None)
            )
            index += 1
    return nodes
