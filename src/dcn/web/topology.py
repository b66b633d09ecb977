"""The topology picture: the spine, one leaf per site with its subnets (and the control
plane's VIPs), the site's nodes under it, a cut uplink drawn broken. SVG made on the
server from the recorded plans; every text goes through `escape`, and colours are
presentation attributes (no style attribute: the pages' CSP allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from dcn.plan.types import StackPlan

COLUMN = 250
NODE_H = 34
NODES_SHOWN = 12
LEAF_TOP = 140
LEAF_H = 120
#: subnet and VIP lines a leaf shows at most
MAX_LINES = 10
FONT = 'font-family="sans-serif"'


@dataclass(frozen=True, slots=True)
class SiteBox:
    """What one column shows of a site (from its newest recorded plan, if any)."""

    name: str
    kind: str
    az: str
    #: network -> cidr
    subnets: dict[str, str]
    #: network -> VIP
    vips: dict[str, str]
    #: (hostname, role, ctlplane address)
    nodes: list[tuple[str, str, str]]
    cut: bool = False
    planned: bool = True


def site_box(name: str, kind: str, az: str, plan: StackPlan | None, cut: bool) -> SiteBox:
    if plan is None:
        return SiteBox(name, kind, az, {}, {}, [], cut, planned=False)
    return SiteBox(
        name=name,
        kind=kind,
        az=az,
        subnets={net: s.cidr for net, s in sorted(plan.network.subnets.items())},
        vips=dict(sorted(plan.network.vips.items())),
        nodes=[(n.hostname, n.role, n.ssh_address or "") for n in plan.nodes],
        cut=cut,
    )


def _fit(text: str, size: int) -> str:
    """Short enough for a column (about 0.55 em a character)."""
    room = int((COLUMN - 40) / (size * 0.55))
    return text if len(text) <= room else text[: room - 1] + "…"


def _lines(box: SiteBox) -> list[str]:
    """The leaf's lines under its name: subnets, then VIPs."""
    if not box.planned:
        return ["not planned: 'dcn plan' records it"]
    return [f"{net} {cidr}" for net, cidr in box.subnets.items()] + [
        f"VIP {net} {ip}" for net, ip in box.vips.items()
    ]


def _text(x: float, y: float, text: str, size: int = 12, **attrs: str) -> str:
    text = _fit(text, size)
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" {FONT}{extra}>{escape(text)}</text>'


def _column(i: int, box: SiteBox, spine_x: float, leaf_h: int) -> list[str]:
    x = 20 + i * COLUMN
    mid = x + (COLUMN - 20) / 2
    edge = "#b91c1c" if box.cut else "#475569"
    dash = ' stroke-dasharray="6 5"' if box.cut else ""
    out = [
        f'<g class="site" data-site="{escape(box.name)}">',
        f'<line x1="{spine_x:.0f}" y1="70" x2="{mid:.0f}" y2="{LEAF_TOP}" stroke="{edge}" '
        f'stroke-width="2"{dash}/>',
    ]
    if box.cut:
        out.append(_text(mid + 6, LEAF_TOP - 24, "uplink cut", 12, fill="#b91c1c"))
    fill = "#eef2ff" if box.kind == "control-plane" else "#f0fdf4"
    out.append(
        f'<rect x="{x}" y="{LEAF_TOP}" width="{COLUMN - 20}" height="{leaf_h}" rx="6" '
        f'fill="{fill}" stroke="{edge}" stroke-width="{3 if box.cut else 1}"/>'
    )
    out.append(_text(x + 8, LEAF_TOP + 18, f"leaf {box.name}", 13, font_weight="bold"))
    out.append(_text(x + 8, LEAF_TOP + 34, f"{box.kind}, AZ {box.az}", 11, fill="#334155"))
    for j, line in enumerate(_lines(box)[:MAX_LINES]):
        out.append(_text(x + 8, LEAF_TOP + 52 + j * 13, line, 10, fill="#334155"))
    y = LEAF_TOP + leaf_h + 20
    for host, role, address in box.nodes[:NODES_SHOWN]:
        out.append(f'<line x1="{mid:.0f}" y1="{y - 20}" x2="{mid:.0f}" y2="{y}" stroke="#94a3b8"/>')
        out.append(
            f'<rect x="{x + 10}" y="{y}" width="{COLUMN - 40}" height="{NODE_H - 6}" rx="4" '
            f'fill="#ffffff" stroke="#64748b"/>'
        )
        out.append(_text(x + 16, y + 12, host, 11))
        out.append(_text(x + 16, y + 24, f"{role} {address}", 10, fill="#475569"))
        y += NODE_H
    more = len(box.nodes) - NODES_SHOWN
    if more > 0:
        out.append(_text(x + 16, y + 12, f"and {more} more nodes", 11, fill="#475569"))
    out.append("</g>")
    return out


def svg(deployment: str, boxes: Sequence[SiteBox], total: int) -> Markup:
    """The picture of `boxes` (one page of the fleet's `total` sites)."""
    width = max(COLUMN * max(len(boxes), 1) + 20, 400)
    deepest = max((min(len(b.nodes), NODES_SHOWN + 1) for b in boxes), default=0)
    most = max((min(len(_lines(b)), MAX_LINES) for b in boxes), default=0)
    leaf_h = max(LEAF_H, 52 + most * 13)
    height = LEAF_TOP + leaf_h + 40 + deepest * NODE_H
    spine_x = width / 2
    title = f"{deployment}: spine and {len(boxes)} of {total} leaves"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{spine_x - 90:.0f}" y="20" width="180" height="50" rx="8" fill="#1e293b"/>',
        _text(spine_x - 78, 42, "spine", 14, fill="#ffffff", font_weight="bold"),
        _text(spine_x - 78, 60, "routes every leaf subnet", 10, fill="#cbd5e1"),
    ]
    for i, box in enumerate(boxes):
        out.extend(_column(i, box, spine_x, leaf_h))
    out.append("</svg>")
    return Markup("\n".join(out))
