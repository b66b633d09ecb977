"""Rules about the networks workloads use (`Deployment.workload_networks`, DCN7xx).

Most of them look at the top-level section alone (names, physnets, VLANs, gateways,
pools, segments against each other) or at it and every site's name
(`workload_findings`, run on each validation: the section is small and its places are
in the top file). What needs a site's own data, its leaves, its ``sdn`` and whether
anything reaches it, is checked with that site (`site_workload_findings`, from
`dcn.validate.check_site`) and reported in the site's own file: the validation memo
keeps those results by a digest of the deployment-wide settings, which holds this
section, so an edit of it checks every site again and a one-site edit checks one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dcn.errors import Finding
from dcn.model.description import (
    Deployment,
    ProviderNetwork,
    Segment,
    Site,
    TenantNetwork,
)
from dcn.model.fleet import SiteRef
from dcn.model.ipints import NetRange, address_int, network_range
from dcn.model.loader import LoadedDescription
from dcn.model.sourcemap import field_path
from dcn.validate.rules import finding

#: the smallest workload subnets: a gateway and one workload (IPv4 also loses its
#: network and broadcast addresses)
MAX_PREFIX = {4: 30, 6: 126}

Path = tuple[str | int, ...]


def _segments(dep: Deployment) -> Iterator[tuple[int, int, ProviderNetwork, Segment]]:
    for k, net in enumerate(dep.workload_networks):
        if isinstance(net, ProviderNetwork):
            for j, seg in enumerate(net.segments):
                yield k, j, net, seg


def _seg_path(k: int, j: int) -> Path:
    return ("workload_networks", k, "segments", j)


# -- the section with every site's name ---------------------------------------------


def workload_findings(
    loaded: LoadedDescription, dep: Deployment, refs: Sequence[SiteRef]
) -> list[Finding]:
    """The workload networks on their own and against the sites' names."""
    if not dep.workload_networks:
        return []
    return [
        *_names(loaded, dep),
        *_sites(loaded, dep, refs),
        *_physnets(loaded, dep),
        *_segment_overlaps(loaded, dep),
        *(
            f
            for k, net in enumerate(dep.workload_networks)
            for at, subnet, field in _subnets(k, net)
            for f in _addressing(loaded, at, field, subnet)
        ),
    ]


def _names(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """No two workload networks share a name (DCN701): neutron finds them by name."""
    out = []
    seen: dict[str, int] = {}
    for k, net in enumerate(dep.workload_networks):
        if net.name in seen:
            out.append(
                finding(
                    loaded,
                    "DCN701",
                    ("workload_networks", k, "name"),
                    f"workload network {net.name!r} is declared twice "
                    f"(workload_networks[{seen[net.name]}] too)",
                    "give every workload network its own name; a routed provider network "
                    "holds every site's segment in one entry",
                )
            )
        seen.setdefault(net.name, k)
    return out


def _sites(loaded: LoadedDescription, dep: Deployment, refs: Sequence[SiteRef]) -> list[Finding]:
    """Segments and tenant networks name edge sites of the description (DCN702)."""
    control_plane = {r.name: r.control_plane for r in refs}
    edges = [r.name for r in refs if not r.control_plane]
    out = []

    def check(site: str, at: Path, what: str) -> None:
        if site in control_plane and not control_plane[site]:
            return
        if site in control_plane:
            msg = f"{what} names {site}, the control plane: workload networks reach edge sites"
            fix = f"remove it, or name an edge site ({_few(edges)})"
        else:
            msg = f"{what} names {site}, but there is no site of that name"
            fix = f"name an edge site ({_few(edges)}), or add the site"
        out.append(finding(loaded, "DCN702", at, msg, fix))

    for k, net in enumerate(dep.workload_networks):
        if isinstance(net, ProviderNetwork):
            for j, seg in enumerate(net.segments):
                check(seg.site, (*_seg_path(k, j), "site"), f"a segment of {net.name}")
        else:
            for m, site in enumerate(net.sites):
                check(site, ("workload_networks", k, "sites", m), f"tenant network {net.name}")
    return out


def _few(names: Sequence[str]) -> str:
    shown = ", ".join(names[:5])
    return f"{shown}, ..." if len(names) > 5 else shown or "none yet"


def _physnets(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """A physnet is one site's (DCN703), a network has one segment per site (DCN704),
    and a physnet carries each VLAN id once and at most one flat segment (DCN705)."""
    out: list[Finding] = []
    owner: dict[str, tuple[str, Path]] = {}
    carried: dict[tuple[str, int | None], Path] = {}
    at_site: dict[tuple[int, str], Path] = {}
    for k, j, net, seg in _segments(dep):
        here = _seg_path(k, j)
        physnet = seg.physical_network
        named = (*here, "physnet") if seg.physnet is not None else (*here, "site")
        first = owner.setdefault(physnet, (seg.site, here))
        if first[0] != seg.site:
            msg = (
                f"physnet {physnet} is also site {first[0]}'s ({field_path(first[1])}): a "
                "physnet is bridged at one site, and neutron maps each host to a segment "
                "by its physnet"
            )
            fix = "give each site its own physnet (the default is physnet-<site>)"
            out.append(finding(loaded, "DCN703", named, msg, fix))
            continue
        twice = at_site.setdefault((k, seg.site), here)
        if twice != here:
            msg = (
                f"{net.name} has two segments at {seg.site} ({field_path(twice)} too): neutron "
                "binds a host to one segment of a network"
            )
            fix = f"keep one segment of {net.name} per site; declare another network for more"
            out.append(finding(loaded, "DCN704", (*here, "site"), msg, fix))
            continue
        key = (physnet, seg.vlan)
        earlier = carried.setdefault(key, here)
        if earlier != here:
            what = f"VLAN {seg.vlan}" if seg.vlan is not None else "a flat segment"
            msg = (
                f"{what} on {physnet} is also {field_path(earlier)}'s: both would be one L2 segment"
            )
            fix = (
                "use another VLAN id" if seg.vlan is not None else "make one of them a vlan segment"
            )
            where = "vlan" if seg.vlan is not None else "network_type"
            out.append(finding(loaded, "DCN705", (*here, where), msg, fix))
    return out


def _segment_overlaps(loaded: LoadedDescription, dep: Deployment) -> list[Finding]:
    """No two segment subnets overlap (DCN706, among themselves; against the sites'
    leaves see `site_workload_findings`). Sorted by first address, each against the
    one before it that reaches furthest."""
    spans = sorted(
        (r.version, r.first, r.last, _seg_path(k, j), seg.subnet)
        for k, j, _, seg in _segments(dep)
        for r in (network_range(seg.subnet),)
    )
    out = []
    reach: tuple | None = None
    for span in spans:
        if reach is not None and reach[0] == span[0] and span[1] <= reach[2]:
            out.append(
                finding(
                    loaded,
                    "DCN706",
                    (*span[3], "subnet"),
                    f"{span[4]} overlaps {reach[4]}, the subnet of {field_path(reach[3])}",
                    "give every segment its own subnet",
                )
            )
        if reach is None or reach[0] != span[0] or span[2] > reach[2]:
            reach = span
    return out


def _subnets(
    k: int, net: ProviderNetwork | TenantNetwork
) -> Iterator[tuple[Path, Segment | TenantNetwork, str]]:
    """(path, subnet, name of its CIDR field) of each subnet of a workload network."""
    if isinstance(net, ProviderNetwork):
        for j, seg in enumerate(net.segments):
            yield _seg_path(k, j), seg, "subnet"
    else:
        yield ("workload_networks", k), net, "cidr"


def _addressing(
    loaded: LoadedDescription, at: Path, field: str, sub: Segment | TenantNetwork
) -> list[Finding]:
    """A workload subnet has room, pools inside it (DCN708) and a gateway neutron
    accepts (DCN707): on the subnet, not its network or broadcast address, in no pool."""
    cidr = network_range(sub.subnet_cidr)
    if cidr.prefixlen > MAX_PREFIX[cidr.version]:
        msg = f"{sub.subnet_cidr} has no room for a gateway and workloads"
        fix = f"use a /{MAX_PREFIX[cidr.version]} or larger subnet"
        return [finding(loaded, "DCN708", (*at, field), msg, fix)]
    out = []
    pools: list[tuple[int, int, int]] = []
    for p, pool in enumerate(sub.allocation_pools or []):
        start, end = address_int(pool.start), address_int(pool.end)
        where = (*at, "allocation_pools", p)
        bad = _pool_problem(cidr, start.version, start.value, end.version, end.value)
        if bad:
            msg = f"allocation pool {pool.start}-{pool.end} {bad}"
            fix = f"keep each pool inside {sub.subnet_cidr}, start before end, off its ends"
            out.append(finding(loaded, "DCN708", where, msg, fix))
            continue
        for other in pools:
            if start.value <= other[1] and other[0] <= end.value:
                msg = f"allocation pool {pool.start}-{pool.end} overlaps pool {other[2]}"
                out.append(finding(loaded, "DCN708", where, msg, "make the pools disjoint"))
                break
        pools.append((start.value, end.value, p))
    bad = _gateway_problem(cidr, sub.gateway_ip, pools)
    if bad and sub.gateway is not None:
        msg = f"gateway {sub.gateway} {bad}"
        fix = (
            f"use a host address of {sub.subnet_cidr} outside the allocation pools, or "
            "leave gateway out (the first host)"
        )
        out.append(finding(loaded, "DCN707", (*at, "gateway"), msg, fix))
    elif bad:  # the default gateway is only ever in a pool: report the pool
        p = next(q for start, end, q in pools if start <= cidr.first + 1 <= end)
        msg = f"the default gateway {sub.gateway_ip} (the first host) {bad}"
        fix = "start the pool after the gateway, or set gateway to an address outside the pools"
        out.append(finding(loaded, "DCN707", (*at, "allocation_pools", p), msg, fix))
    return out


def _pool_problem(cidr: NetRange, v1: int, start: int, v2: int, end: int) -> str | None:
    if v1 != cidr.version or v2 != cidr.version:
        return f"is not IPv{cidr.version} like its subnet"
    if not (cidr.first <= start and end <= cidr.last):
        return "is outside its subnet"
    if start > end:
        return "starts after it ends"
    if start == cidr.first:
        return "holds the subnet's network address"
    if cidr.version == 4 and end == cidr.last:
        return "holds the subnet's broadcast address"
    return None


def _gateway_problem(cidr: NetRange, gateway: str, pools: list[tuple[int, int, int]]) -> str | None:
    addr = address_int(gateway)
    if not cidr.holds(addr):
        return "is outside its subnet"
    if addr.value == cidr.first:
        return (
            "is the subnet's network address"
            if cidr.version == 4
            else ("is the subnet-router anycast address")
        )
    if cidr.version == 4 and addr.value == cidr.last:
        return "is the subnet's broadcast address"
    for start, end, p in pools:
        if start <= addr.value <= end:
            return f"is inside allocation pool {p}: neutron would hand it to a workload"
    return None


# -- with one site ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Index:
    """The section as each site's check needs it, built once per validation."""

    #: site name -> indices of the provider networks with a segment there
    segments: dict[str, list[int]]
    #: site name -> indices of the tenant networks that list it
    tenants: dict[str, list[int]]
    #: IP version -> segment subnets sorted by first address: (first, last, k, j),
    #: and the furthest last address among each one and those before it
    spans: dict[int, tuple[list[tuple[int, int, int, int]], list[int]]]


_index_of: list[tuple[Deployment, _Index]] = []


def _index(dep: Deployment) -> _Index:
    """`dep`'s index (kept for the frame object of the running validation)."""
    if _index_of and _index_of[0][0] is dep:
        return _index_of[0][1]
    segments: dict[str, list[int]] = {}
    tenants: dict[str, list[int]] = {}
    by_version: dict[int, list[tuple[int, int, int, int]]] = {4: [], 6: []}
    for k, net in enumerate(dep.workload_networks):
        if isinstance(net, TenantNetwork):
            for site in net.sites:
                tenants.setdefault(site, []).append(k)
            continue
        for j, seg in enumerate(net.segments):
            segments.setdefault(seg.site, []).append(k)
            r = network_range(seg.subnet)
            by_version[r.version].append((r.first, r.last, k, j))
    spans = {}
    for version, found in by_version.items():
        found.sort()
        reach, furthest = -1, []
        for span in found:
            reach = max(reach, span[1])
            furthest.append(reach)
        spans[version] = (found, furthest)
    index = _Index(segments, tenants, spans)
    _index_of[:] = [(dep, index)]
    return index


def site_workload_findings(
    loaded: LoadedDescription, dep: Deployment, i: int, site: Site
) -> list[Finding]:
    """Site `i` against the workload networks: its leaves overlap no segment (DCN706),
    it tunnels if a tenant network lists it (DCN709), something reaches it (DCN710)."""
    if not dep.workload_networks:
        return []
    index = _index(dep)
    out = [*_leaf_overlaps(loaded, dep, index, i, site)]
    if site.is_control_plane:
        return out  # a segment or tenant network naming it is DCN702
    tenants = index.tenants.get(site.name, [])
    if not site.sdn.tunnelling:
        for k in tenants:
            name = dep.workload_networks[k].name
            out.append(
                finding(
                    loaded,
                    "DCN709",
                    ("sites", i, "sdn", "tunnelling"),
                    f"tenant network {name} (geneve) lists {site.name}, which does not tunnel: "
                    "its computes are not in the geneve mesh",
                    f"set sdn.tunnelling: true at {site.name} (the seed warns against it, "
                    f"DCN401), or remove {site.name} from workload_networks[{k}].sites and "
                    "give it a segment of a provider network",
                )
            )
    if not tenants and site.name not in index.segments:
        out.append(
            finding(
                loaded,
                "DCN710",
                ("sites", i, "name"),
                f"no workload network reaches {site.name}: a server booted there gets no "
                "network (only `networks: none` boots)",
                f"add a segment for {site.name} to a provider network under "
                "workload_networks (site, network_type, vlan, subnet), if its workloads "
                "need one",
            )
        )
    return out


def _leaf_overlaps(
    loaded: LoadedDescription, dep: Deployment, index: _Index, i: int, site: Site
) -> list[Finding]:
    """Each leaf of the site against every segment subnet (DCN706): reported at the leaf,
    in the site's own file, naming the segment."""
    out = []
    for net, sub in site.networks.items():
        leaf = network_range(sub.cidr)
        spans, furthest = index.spans[leaf.version]
        k = bisect_right(spans, (leaf.last, 1 << 129)) - 1
        if k < 0 or furthest[k] < leaf.first:
            continue
        while spans[k][1] < leaf.first:  # the one that reaches this leaf
            k -= 1
        _, _, n, j = spans[k]
        seg = dep.workload_networks[n].segments[j]  # type: ignore[union-attr]
        out.append(
            finding(
                loaded,
                "DCN706",
                ("sites", i, "networks", net, "cidr"),
                f"the {net} leaf {sub.cidr} overlaps {seg.subnet}, the subnet of "
                f"{dep.workload_networks[n].name}'s segment at {seg.site} "
                f"({field_path(_seg_path(n, j))})",
                "give the segment a subnet outside every site's leaves, or move the leaf: "
                "workloads and the infrastructure must not share addresses",
            )
        )
    return out
