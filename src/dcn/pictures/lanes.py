"""A drill report as lanes to draw: faults, compute states, API probes, attempts,
guest packets and timeline events, each on the drill's clock (seconds since start).

Reports come from the state store, which may have come with a folder: everything is
checked here (numbers finite, texts short and free of control characters) so the
drawing code only sees clean values. Reports written before drills recorded `marks`
are read from their `attempts` and the timeline's known sentences instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from dcn.errors import DcnError

#: the longest text drawn (titles, claims, attempts); the rest is cut with an ellipsis
MAX_TEXT = 160
#: compute hosts drawn one lane each; more are summarised in the title of the lane
MAX_HOSTS = 40
#: a compute sample stands for this long when no later sample of its host follows
SAMPLE_SPAN = 2.0
#: outcomes of an attempt that mean it worked (reports without an explicit `ok`)
OK_OUTCOMES = frozenset({"ACTIVE", "SHUTOFF", "accepted", "succeeded", "served"})

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

# the sentences drills wrote before they recorded marks (dcn.drill, scenarios,
# controllers): fault starts and heals, for old reports
_OLD_FAULTS = (
    (re.compile(r"^cut (.+)'s uplink$"), "cut", True),
    (re.compile(r"^healed (.+)'s uplink$"), "cut", False),
    (re.compile(r"^stopped nova-compute on (\S+)$"), "service-stop", True),
    (re.compile(r"^started nova-compute on (\S+) again$"), "service-stop", False),
    (re.compile(r"^stopped (\S+) on \S+ for \d+s$"), "service-stop", True),
    (re.compile(r"^started (\S+) again$"), "service-stop", False),
    (re.compile(r"^killed (\S+) on \S+"), "service-kill", True),
    (re.compile(r"^powered off (.+?)(?: \(it held the VIPs\)| for [\d.]+s)?$"), "power-off", True),
    (re.compile(r"^powered (\S+) on again$"), "power-off", False),
    (re.compile(r"^powered on in "), "power-off", False),
)


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """A value as one line of drawable text: no control characters, bounded length."""
    line = _CONTROL.sub("", str(value)).replace("\n", " ").replace("\r", " ").strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def seconds(value: Any) -> float | None:
    """A time or duration from a report, or None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and -1e6 < value < 1e7 else None


@dataclass(slots=True)
class Band:
    """A fault from its start to its heal (None: never healed, e.g. a killed process
    that systemd restarts: drawn as a line)."""

    start: float
    end: float | None
    label: str


@dataclass(slots=True)
class Mark:
    t: float
    ok: bool
    label: str = ""


@dataclass(slots=True)
class Series:
    """A guest's ping series: when it ran and when packets were lost."""

    start: float
    end: float
    gaps: list[tuple[float, float]]
    label: str


@dataclass(slots=True)
class Lanes:
    title: str
    started: str
    params: str
    #: "drill N" when the report carries its id
    name: str = ""
    faults: list[Band] = field(default_factory=list)
    #: host -> (t, state) samples in time order
    computes: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    hidden_hosts: int = 0
    probes: list[Mark] = field(default_factory=list)
    attempts: list[Mark] = field(default_factory=list)
    boots: list[Band] = field(default_factory=list)
    packets: list[Series] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    #: (verdict, claim key, evidence): verdict True held, False not held, None untested
    claims: list[tuple[bool | None, str, str]] = field(default_factory=list)
    from_marks: bool = True

    def end(self) -> float:
        """The last moment anything happened (at least 1 s, so an axis has width)."""
        times = [0.0, *self.events]
        times += [b.end if b.end is not None else b.start for b in self.faults + self.boots]
        times += [m.t for m in self.probes + self.attempts]
        times += [t + SAMPLE_SPAN for samples in self.computes.values() for t, _ in samples]
        times += [s.end for s in self.packets]
        return max(1.0, max(times))


def lanes(report: Any) -> Lanes:
    """What to draw of one report (a dict as `dcn drill show` and the store give it)."""
    if not isinstance(report, dict) or "scenario" not in report:
        raise DcnError(
            "not a drill report (a mapping with a scenario)",
            hint="pictures are drawn from stored drills: 'dcn drill list' shows them",
        )
    params = report.get("params")
    out = Lanes(
        title=text(report.get("scenario"), 80),
        started=text(report.get("started") or "unknown start", 40),
        params=text(
            ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
        ),
    )
    if "id" in report:
        out.name = f"drill {text(report['id'], 12)}"
        out.title = f"{out.name}: {out.title}"
    for entry in _list(report.get("timeline")):
        if isinstance(entry, list | tuple) and len(entry) == 2 and seconds(entry[0]) is not None:
            out.events.append(seconds(entry[0]))  # type: ignore[arg-type]
    for c in _list(report.get("claims")):
        if isinstance(c, dict):
            held = c.get("held")
            out.claims.append(
                (
                    held if isinstance(held, bool) else None,
                    text(c.get("claim"), 40),
                    text(c.get("evidence")),
                )
            )
    marks = [m for m in _list(report.get("marks")) if isinstance(m, dict)]
    if marks:
        _from_marks(out, marks)
    else:
        out.from_marks = False
        _from_text(out, report)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _from_marks(out: Lanes, marks: list[dict[str, Any]]) -> None:
    open_faults: dict[tuple[str, str], list[Band]] = {}
    for m in sorted(marks, key=lambda m: seconds(m.get("t")) or 0.0):
        t = seconds(m.get("t"))
        if t is None:
            continue
        kind = m.get("kind")
        if kind == "fault":
            key = (text(m.get("what"), 40), text(m.get("target"), 80))
            band = Band(t, None, f"{key[0]} {key[1]}".strip())
            out.faults.append(band)
            open_faults.setdefault(key, []).append(band)
        elif kind == "heal":
            key = (text(m.get("what"), 40), text(m.get("target"), 80))
            waiting = open_faults.get(key)
            if waiting:
                waiting.pop(0).end = t
        elif kind == "compute":
            host, state = text(m.get("host"), 60), text(m.get("state"), 10)
            if host:
                out.computes.setdefault(host, []).append((t, state))
        elif kind == "probe":
            out.probes.append(Mark(t, m.get("ok") is True))
        elif kind == "attempt":
            ok = m.get("ok")
            outcome = text(m.get("outcome"), 40)
            out.attempts.append(
                Mark(
                    t,
                    ok if isinstance(ok, bool) else outcome in OK_OUTCOMES,
                    _attempt_text(m.get("action"), outcome, m.get("detail")),
                )
            )
        elif kind == "boot":
            end = seconds(m.get("end"))
            if end is not None and end >= t:
                out.boots.append(Band(t, end, text(m.get("status"), 20)))
        elif kind == "packets":
            end = seconds(m.get("end"))
            if end is None or end < t:
                continue
            gaps = [
                (a, b)
                for g in _list(m.get("gaps"))
                if isinstance(g, list | tuple)
                and len(g) == 2
                and (a := seconds(g[0])) is not None
                and (b := seconds(g[1])) is not None
            ]
            label = f"pings to the {text(m.get('target'), 30)}"
            out.packets.append(Series(t, end, gaps, label))
    _limit_hosts(out)


def _limit_hosts(out: Lanes) -> None:
    if len(out.computes) > MAX_HOSTS:
        kept = sorted(out.computes)[:MAX_HOSTS]
        out.hidden_hosts = len(out.computes) - MAX_HOSTS
        out.computes = {h: out.computes[h] for h in kept}


def _attempt_text(action: Any, outcome: str, detail: Any) -> str:
    extra = text(detail, 60) if detail is not None else ""
    return f"{text(action, 80)}: {outcome}" + (f" ({extra})" if extra else "")


def _from_text(out: Lanes, report: dict[str, Any]) -> None:
    """A report from before marks: attempts as recorded, faults from the timeline's
    sentences (their texts are the drills' own)."""
    for a in _list(report.get("attempts")):
        t = seconds(a.get("t")) if isinstance(a, dict) else None
        if t is None:
            continue
        outcome = text(a.get("outcome"), 40)
        out.attempts.append(
            Mark(
                t, outcome in OK_OUTCOMES, _attempt_text(a.get("action"), outcome, a.get("detail"))
            )
        )
    open_faults: dict[str, list[Band]] = {}
    for entry in _list(report.get("timeline")):
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            continue
        t, said = seconds(entry[0]), entry[1]
        if t is None or not isinstance(said, str):
            continue
        for pattern, what, starts in _OLD_FAULTS:
            found = pattern.match(said)
            if not found:
                continue
            if starts:
                target = text(found.group(1), 80) if found.groups() else ""
                band = Band(t, None, f"{what} {target}".strip())
                out.faults.append(band)
                open_faults.setdefault(what, []).append(band)
            elif open_faults.get(what):
                open_faults[what].pop(0).end = t
            break
