"""A drill's timeline as a picture for a wall screen: the fault as a shaded band, one
lane per compute host (up/down as the drill saw it), the API probes, the guests'
pings, the attempts with their outcome, and the seed's claims held or not below.

One drawing makes both SVG and PNG (matplotlib, Agg). The SVG is self-contained (no
script, no external reference: no DOCTYPE, no metadata block), its texts escaped by
matplotlib and stripped of control characters here, and byte-for-byte the same for
the same report (fixed hash salt, text kept as text, no dates). Elements carry ids
(`fault-N`, `probes-ok`, `probes-failed`, `compute-N-up`, `compute-N-down`,
`attempts-ok`, `attempts-failed`, `boots`, `events`, `packets-N`, `packets-N-lost`,
`claim-N`, `attempt-N`; a comparison's lower drill has them prefixed `second-`) so a
page can style them.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from typing import TYPE_CHECKING, Any

from dcn.pictures.lanes import SAMPLE_SPAN, Lanes, lanes, text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["compare_svg", "timeline_png", "timeline_svg"]

WIDTH = 16.0  # inches; at 100 dpi the PNG is 1600 px wide
LEFT = 3.4  # inches of lane labels
RIGHT = 0.4
LANE = 0.5
HEADER = 1.3
AXIS = 0.7
LINE = 0.3
KEY = 0.4  # the row saying what colours and shapes mean
#: a compute sample is drawn up to the next one of its host when that is this close;
#: further apart, the lane shows the gap (nobody looked)
MAX_GAP = 6.0

OK = "#2e7d32"
FAILED = "#c62828"
UNKNOWN = "#9e9e9e"
FAULT = "#ef6c00"
BOOT = "#90a4ae"
EVENT = "#607d8b"
INK = "#212121"

#: matplotlib's settings are process-wide: one picture at a time (the web view may
#: draw from several threads)
_LOCK = threading.Lock()
_RC = {
    "svg.hashsalt": "dcn-timeline",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 12,
    "axes.titlesize": 16,
}
_SVG_HEAD = re.compile(r"<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.S)


def timeline_svg(report: dict[str, Any]) -> str:
    """One drill as an SVG document."""
    return _svg(_timeline(report))


def timeline_png(report: dict[str, Any]) -> bytes:
    """One drill as a PNG image (the same drawing as the SVG)."""
    return _png(_timeline(report))


def compare_svg(first: dict[str, Any], second: dict[str, Any]) -> str:
    """Two drills one above the other on the same time scale, their claims side by side."""
    return _svg(_compare(first, second))


def _timeline(report: dict[str, Any]) -> _Drawing:
    drawn = lanes(report)
    footer = (
        [("attempts (their number is beside their mark)", INK, "heading")] if drawn.attempts else []
    )
    footer += [
        (f"{i}  {a.t:6.1f} s  {a.label}", OK if a.ok else FAILED, "attempt")
        for i, a in enumerate(drawn.attempts, 1)
    ]
    footer += [("the seed's claims", INK, "heading"), *_claim_lines(drawn)]
    return _Drawing([drawn], footer, drawn.end())


def _compare(first: dict[str, Any], second: dict[str, Any]) -> _Drawing:
    a, b = lanes(first), lanes(second)
    verdicts = {key: [held, None] for held, key, _ in a.claims}
    for held, key, _ in b.claims:
        verdicts.setdefault(key, [None, None])[1] = held
    upper, lower = a.name or "upper", b.name or "lower"
    footer = [(f"the seed's claims: {upper} (upper) · {lower} (lower)", INK, "heading")]
    for key, (x, y) in verdicts.items():
        colour = FAILED if False in (x, y) else OK if x is y is True else UNKNOWN
        line = f"{key}:  {upper} {_verdict(x)}  ·  {lower} {_verdict(y)}"
        footer.append((line, colour, "claim"))
    if len(footer) == 1:
        footer.append(("no claims tested", UNKNOWN, "claim"))
    return _Drawing([a, b], footer, max(a.end(), b.end()))


def _claim_lines(drawn: Lanes) -> list[tuple[str, str, str]]:
    if not drawn.claims:
        return [("no claims tested", UNKNOWN, "claim")]
    return [
        (
            f"{_verdict(held)}  {key}: {evidence}",
            {True: OK, False: FAILED}.get(held, UNKNOWN),
            "claim",
        )
        for held, key, evidence in drawn.claims
    ]


def _verdict(held: bool | None) -> str:
    return {True: "held", False: "NOT HELD"}.get(held, "untested")  # type: ignore[arg-type]


class _Drawing:
    """Panels (one per drill) above a footer of coloured lines, on one time scale."""

    def __init__(self, panels: list[Lanes], footer: list[tuple[str, str, str]], end: float):
        self.panels = panels
        self.footer = footer
        self.end = end

    def figure(self) -> Figure:
        from matplotlib.figure import Figure

        heights = [HEADER + max(1, len(_rows(p))) * LANE + AXIS for p in self.panels]
        footer = (len(self.footer) + 1) * LINE + 0.3 + KEY
        total = sum(heights) + footer
        fig = Figure(figsize=(WIDTH, total))
        top = total
        for panel, height in zip(self.panels, heights, strict=True):
            rows = max(1, len(_rows(panel)))
            box = (
                LEFT / WIDTH,
                (top - HEADER - rows * LANE) / total,
                (WIDTH - LEFT - RIGHT) / WIDTH,
                rows * LANE / total,
            )
            ax = fig.add_axes(box)
            _header(fig, panel, (top - 0.4) / total, (top - 0.75) / total)
            _panel(ax, panel, self.end)
            if panel is not self.panels[0]:
                # ids stay unique in one document: the lower drill's are prefixed
                for artist in ax.get_children():
                    if gid := artist.get_gid():
                        artist.set_gid(f"second-{gid}")
            top -= height
        _legend(fig, (top - 0.2) / total)
        top -= KEY
        counts = {"claim": 0, "attempt": 0, "heading": 0}
        for i, (line, colour, kind) in enumerate(self.footer):
            t = fig.text(
                0.3 / WIDTH,
                (top - 0.3 - i * LINE) / total,
                line,
                color=colour,
                fontsize=12,
                va="top",
                parse_math=False,
                fontweight="bold" if colour in (FAILED, INK) else "normal",
            )
            t.set_gid(f"{kind}-{counts[kind]}")
            counts[kind] += 1
        return fig


def _rows(p: Lanes) -> list[str]:
    """The lanes of a panel, top to bottom."""
    rows = ["API probes"] if p.probes else []
    rows += list(p.computes)
    rows += [s.label for s in p.packets]
    rows += ["attempts", "events"]
    return rows


def _header(fig: Figure, p: Lanes, title_y: float, sub_y: float) -> None:
    fig.text(
        0.3 / WIDTH,
        title_y,
        f"{p.title} — started {p.started}",
        fontsize=20,
        fontweight="bold",
        va="center",
        parse_math=False,
    )
    sub = text(p.params, 90)
    if p.hidden_hosts:
        sub += f"  (+{p.hidden_hosts} more compute hosts not drawn)"
    if not p.from_marks:
        sub += "  (an older report: faults and attempts from its text)"
    fig.text(0.3 / WIDTH, sub_y, sub, fontsize=12, color=EVENT, va="center", parse_math=False)


def _legend(fig: Figure, y: float) -> None:
    """What the colours and shapes mean (fixed texts)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], linestyle="none", marker="o", color=OK, label="ok / up"),
        Line2D([], [], linestyle="none", marker="X", color=FAILED, label="failed / down"),
        Patch(color=FAULT, alpha=0.18, label="fault until heal"),
        Patch(color=BOOT, label="a server create, start to end"),
        Line2D([], [], linestyle="none", marker="|", color=EVENT, label="a timeline event"),
    ]
    legend = fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(0.2 / WIDTH, y),
        borderaxespad=0,
        ncols=len(handles),
        frameon=False,
        fontsize=12,
    )
    legend.set_gid("legend")


def _panel(ax: Axes, p: Lanes, end: float) -> None:
    rows = _rows(p)
    y = {name: -i for i, name in enumerate(rows)}
    ax.set_xlim(0, end * 1.02)
    ax.set_ylim(-len(rows) + 0.5, 0.5)
    ax.set_yticks([])
    ax.set_xlabel("seconds since the drill started")
    ax.grid(axis="x", color="#e0e0e0")
    ax.set_axisbelow(True)
    for name, row in y.items():
        ax.text(
            -0.01,
            row,
            name,
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=13,
            parse_math=False,
        )
    for i, band in enumerate(p.faults):
        if band.end is None:
            shade = ax.axvline(band.start, color=FAULT, linewidth=3)
        else:
            shade = ax.axvspan(band.start, band.end, color=FAULT, alpha=0.18, linewidth=0)
        shade.set_gid(f"fault-{i}")
        ax.text(
            band.start,
            1.0,
            f" {band.label}",
            transform=ax.get_xaxis_transform(),
            va="bottom",
            fontsize=12,
            color=FAULT,
            parse_math=False,
        )
    if p.probes:
        _dots(ax, [m.t for m in p.probes if m.ok], y["API probes"], "o", OK, "probes-ok")
        _dots(
            ax, [m.t for m in p.probes if not m.ok], y["API probes"], "X", FAILED, "probes-failed"
        )
    for i, (host, samples) in enumerate(p.computes.items()):
        spans: dict[str, list[tuple[float, float]]] = {}
        for k, (t, state) in enumerate(samples):
            following = samples[k + 1][0] if k + 1 < len(samples) else None
            stop = (
                following if following is not None and following - t <= MAX_GAP else t + SAMPLE_SPAN
            )
            spans.setdefault(state if state in ("up", "down") else "other", []).append(
                (t, stop - t)
            )
        for state, pieces in spans.items():
            colour = {"up": OK, "down": FAILED}.get(state, UNKNOWN)
            bars = ax.broken_barh(pieces, (y[host] - 0.3, 0.6), color=colour, linewidth=0)
            bars.set_gid(f"compute-{i}-{state}")
    for i, series in enumerate(p.packets):
        row = y[series.label]
        bars = ax.broken_barh(
            [(series.start, series.end - series.start)], (row - 0.2, 0.4), color=OK, linewidth=0
        )
        bars.set_gid(f"packets-{i}")
        if series.gaps:
            lost = ax.broken_barh(
                [(a, max(b - a, 0.2)) for a, b in series.gaps],
                (row - 0.3, 0.6),
                color=FAILED,
                linewidth=0,
            )
            lost.set_gid(f"packets-{i}-lost")
    row = y["attempts"]
    if p.boots:
        boots = ax.broken_barh(
            [(b.start, (b.end or b.start) - b.start) for b in p.boots],
            (row - 0.12, 0.24),
            color=BOOT,
            linewidth=0,
        )
        boots.set_gid("boots")
    _dots(ax, [m.t for m in p.attempts if m.ok], row, "o", OK, "attempts-ok", size=11)
    _dots(ax, [m.t for m in p.attempts if not m.ok], row, "X", FAILED, "attempts-failed", size=12)
    for i, m in enumerate(p.attempts, 1):
        ax.annotate(str(i), (m.t, row), xytext=(7, 5), textcoords="offset points", fontsize=11)
    _dots(ax, p.events, y["events"], "|", EVENT, "events", size=12)


def _dots(
    ax: Axes, ts: list[float], row: float, marker: str, colour: str, gid: str, size: float = 8
) -> None:
    if ts:
        (line,) = ax.plot(
            ts, [row] * len(ts), linestyle="none", marker=marker, color=colour, markersize=size
        )
        line.set_gid(gid)


def _render(drawing: _Drawing, fmt: str) -> bytes:
    import matplotlib

    with _LOCK, matplotlib.rc_context(_RC), warnings.catch_warnings():
        # a glyph the font lacks is drawn as a box, not an error
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig = drawing.figure()
        buf = io.BytesIO()
        metadata = {"Date": None, "Creator": "dcn"} if fmt == "svg" else {"Software": "dcn"}
        fig.savefig(buf, format=fmt, metadata=metadata, dpi=100, facecolor="white")
    return buf.getvalue()


def _svg(drawing: _Drawing) -> str:
    return _SVG_HEAD.sub("", _render(drawing, "svg").decode("utf-8"), count=2)


def _png(drawing: _Drawing) -> bytes:
    return _render(drawing, "png")
