"""The rule registry: every rule's stable id, name, severity and one-line summary.

docs/rules.md has one row per entry (a test keeps them equal); the modules beside
this one check them, each named after what it checks.
"""

from __future__ import annotations

from dataclasses import replace

from dcn.errors import Finding, Location, Severity
from dcn.lines import comment_safe, unsafe_char
from dcn.model.loader import LoadedDescription

E, W = Severity.ERROR, Severity.WARNING
RULES: dict[str, tuple[str, Severity, str]] = {
    "DCN001": ("schema", E, "the description does not match the schema"),
    "DCN002": ("no-control-plane", E, "no control-plane site and no control_plane_export"),
    "DCN003": ("control-plane-twice", E, "more than one control-plane site"),
    "DCN004": ("unknown-role", E, "a role that is not in the catalog or not for this site kind"),
    "DCN005": ("undeclared-network", E, "a site subnet of a network not declared on top"),
    "DCN006": ("missing-subnet", E, "a role's network has no subnet at the site"),
    "DCN007": ("ha-size", E, "ha_size at an edge, or not equal to the Controller count"),
    "DCN008": ("export-missing", E, "control_plane_export names no readable file"),
    "DCN101": ("site-duplicate", E, "two sites with the same name"),
    "DCN102": ("hostname-duplicate", E, "two nodes with the same hostname"),
    "DCN103": ("node-duplicate", E, "the same MAC or fixed address on two nodes"),
    "DCN104": ("az-shared", E, "an availability zone shared by two sites"),
    "DCN105": ("mac-not-unicast", E, "a multicast, broadcast or all-zero MAC"),
    "DCN106": ("az-invalid", E, "an availability zone name nova refuses"),
    "DCN107": (
        "hostname-invalid",
        E,
        "a host name (listed or generated) that is no RFC 1123 label",
    ),
    "DCN108": ("domain-invalid", E, "a domain or DNS label that is not RFC 1123"),
    "DCN109": ("control-character", E, "a control character or line break in a string"),
    "DCN110": ("secret-placeholder", E, "a string holding dcn's secret placeholder"),
    "DCN201": ("subnet-overlap", E, "two leaf subnets overlap"),
    "DCN202": ("subnet-too-small", E, "a leaf has fewer free addresses than it needs"),
    "DCN203": ("leaf-no-route", E, "an edge leaf has no route to the control plane's leaf"),
    "DCN204": ("ipv6-provisioning", E, "IPv6 on the provisioning network"),
    "DCN205": ("ip-version", E, "a leaf whose address family differs from its network's"),
    "DCN206": ("gateway-outside", E, "a gateway or allocation pool outside its subnet"),
    "DCN207": ("fixed-outside", E, "a fixed address outside its leaf subnet"),
    "DCN208": ("slaac-not-64", E, "a SLAAC leaf that is not a /64"),
    "DCN209": ("outside-supernet", W, "a leaf subnet outside its network's supernet"),
    "DCN210": ("pool-reversed", E, "an allocation pool whose start is after its end"),
    "DCN211": ("fixed-reserved", E, "a fixed address on the gateway, network or broadcast"),
    "DCN212": ("nexthop-off-link", E, "a route whose next hop is not on the leaf"),
    "DCN301": ("single-controller", W, "a control plane with one controller"),
    "DCN302": ("even-cluster", W, "an even number of controllers (no quorum after a split)"),
    "DCN401": ("edge-tunnelling", W, "tunnelling SDN at an edge site"),
    "DCN402": ("metadata-unreachable", E, "no config drive and no route to metadata"),
    "DCN403": ("edge-storage", E, "non-ephemeral instance storage at an edge"),
    "DCN404": ("dvr-unsupported", E, "DVR with an SDN mechanism that has no DVR"),
    "DCN405": ("sdn-not-deployed", E, "an SDN mechanism other than ovn (the only one deployed)"),
    "DCN501": ("liveness-flapping", W, "service_down_time under twice report_interval"),
    "DCN601": ("override-unknown-file", E, "config_overrides for a file dcn does not render"),
    "DCN602": ("override-syntax", E, "an override section, option or value a parser misreads"),
    "DCN603": ("override-credential", E, "an override of a credential or connection option"),
    "DCN604": ("override-size", E, "an override value or a site's overrides too large"),
    "DCN701": ("workload-network-duplicate", E, "two workload networks with the same name"),
    "DCN702": ("segment-site-unknown", E, "a workload network names a site that is no edge site"),
    "DCN703": ("physnet-collision", E, "one physnet used by segments of two sites"),
    "DCN704": ("segment-site-twice", E, "a provider network with two segments at one site"),
    "DCN705": ("segment-duplicate", E, "one VLAN twice on a physnet, or two flat segments on it"),
    "DCN706": ("segment-overlap", E, "a segment subnet overlaps another or a site's leaf"),
    "DCN707": ("workload-gateway", E, "a workload gateway off its subnet, reserved or pooled"),
    "DCN708": ("workload-pool", E, "a workload subnet too small, or a pool off it or overlapping"),
    "DCN709": ("tenant-without-tunnelling", E, "a tenant network at a site that does not tunnel"),
    "DCN710": ("edge-without-workload-network", W, "an edge site no workload network reaches"),
}


def finding(loaded: LoadedDescription, rule: str, path: tuple, message: str, fix: str) -> Finding:
    """A finding of `rule` at the file:line where `path` was written."""
    return finding_at(rule, loaded.smap.locate(path), message, fix)


def finding_at(rule: str, where: Location, message: str, fix: str) -> Finding:
    """A finding of `rule` at `where` (a place looked up before, or kept in the memo)."""
    name, severity, _ = RULES[rule]
    if unsafe_char(where.field, tab=False):  # a key with a line break: shown escaped
        where = replace(where, field=comment_safe(where.field))
    return Finding(rule, name, severity, message, fix, where)
