"""Drill timelines as pictures: what each lane shows, old reports, hostile text, PNG."""

from __future__ import annotations

import math
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from dcn.errors import DcnError
from dcn.pictures import lanes as lanes_module
from dcn.pictures.timeline import compare_svg, timeline_png, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert(1)</script>]]>$\\foo$\x01"


def report(**changes: Any) -> dict[str, Any]:
    """An edge-site-loss report as a drill stores it: a 20 s cut from t=5, two computes
    down meanwhile, API probes failing for 3 s, two attempts, pings with one gap."""
    marks: list[dict[str, Any]] = [
        {"t": 5.0, "kind": "fault", "what": "cut", "target": "dcn0"},
        {"t": 25.0, "kind": "heal", "what": "cut", "target": "dcn0"},
    ]
    marks += [
        {"t": float(t), "kind": "probe", "ok": not 8 <= t <= 10, "latency": 0.02} for t in range(30)
    ]
    for host in ("dcn0-compute-0", "dcn0-compute-1"):
        marks += [
            {"t": float(t), "kind": "compute", "host": host, "state": "down" if t >= 12 else "up"}
            for t in range(5, 26, 2)
        ]
        marks.append({"t": 28.0, "kind": "compute", "host": host, "state": "up"})
    marks += [
        {"t": 6.0, "kind": "boot", "end": 9.5, "az": "dcn1", "status": "ACTIVE"},
        {"t": 9.5, "kind": "attempt", "action": "boot in dcn1", "outcome": "ACTIVE", "ok": True},
        {"t": 14.0, "kind": "attempt", "action": "boot in dcn0", "outcome": "ERROR", "ok": False},
        {
            "t": 4.0,
            "kind": "packets",
            "target": "gateway",
            "end": 24.0,
            "sent": 100,
            "lost": 3,
            "gaps": [[12.0, 12.6]],
        },
    ]
    base: dict[str, Any] = {
        "scenario": "edge-site-loss",
        "params": {"site": "dcn0", "other": "dcn1", "cut": 20},
        "settings": {"report_interval": 10},
        "started": "2026-11-28T14:00:00+00:00",
        "timeline": [[5.0, "cut dcn0's uplink"], [25.0, "healed dcn0's uplink"]],
        "attempts": [
            {"t": 9.5, "action": "boot in dcn1", "outcome": "ACTIVE", "detail": ""},
            {"t": 14.0, "action": "boot in dcn0", "outcome": "ERROR", "detail": ""},
        ],
        "figures": {"computes_up_after_heal": 13.5},
        "claims": [
            {"claim": "reconnect", "text": "...", "held": True, "evidence": "up 13.5s after heal"},
            {"claim": "threshold", "text": "...", "held": False, "evidence": "16s > 15 s"},
            {"claim": "not-resumed", "text": "...", "held": None, "evidence": "not tried"},
        ],
        "marks": marks,
        "ok": False,
    }
    return {**base, **changes}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_id(root: ET.Element, gid: str) -> ET.Element | None:
    return next((e for e in root.iter() if e.get("id") == gid), None)


def uses(root: ET.Element, gid: str) -> int:
    """How many markers a dots lane draws (one <use> per point)."""
    group = by_id(root, gid)
    return 0 if group is None else sum(1 for e in group.iter(f"{SVG}use"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()).strip() for e in root.iter(f"{SVG}text")]


def line(root: ET.Element, gid: str) -> str:
    """The text of one footer line."""
    found = by_id(root, gid)
    assert found is not None, f"no {gid}"
    return "".join(found.itertext()).strip()


def test_every_lane_of_a_drill_is_drawn() -> None:
    root = parse(timeline_svg(report()))
    assert uses(root, "probes-ok") == 27
    assert uses(root, "probes-failed") == 3
    assert by_id(root, "fault-0") is not None and by_id(root, "fault-1") is None
    for i in (0, 1):
        assert by_id(root, f"compute-{i}-up") is not None
        assert by_id(root, f"compute-{i}-down") is not None
    assert uses(root, "attempts-ok") == 1 and uses(root, "attempts-failed") == 1
    assert by_id(root, "boots") is not None
    assert by_id(root, "packets-0") is not None and by_id(root, "packets-0-lost") is not None
    shown = texts(root)
    assert any("edge-site-loss" in t and "2026-11-28T14:00:00+00:00" in t for t in shown)
    for label in ("API probes", "dcn0-compute-0", "dcn0-compute-1", "pings to the gateway"):
        assert label in shown
    assert any(t.startswith("cut dcn0") or t.strip() == "cut dcn0" for t in shown)


def test_the_fault_band_spans_fault_to_heal() -> None:
    band = by_id(parse(timeline_svg(report())), "fault-0")
    assert band is not None
    path = next(band.iter(f"{SVG}path"))
    xs = sorted({float(x) for x in re.findall(r"([\d.]+) [\d.]+", path.get("d", ""))})
    without = by_id(
        parse(timeline_svg(report(marks=[m for m in report()["marks"] if m["kind"] != "heal"]))),
        "fault-0",
    )
    assert len(xs) == 2 and xs[1] > xs[0]  # a band, with width
    assert without is not None  # a fault never healed is still drawn (as a line)


def test_claims_are_listed_held_not_held_and_untested() -> None:
    root = parse(timeline_svg(report()))
    claims = [line(root, f"claim-{i}") for i in range(3)]
    assert claims[0].startswith("held") and "reconnect" in claims[0] and "13.5s" in claims[0]
    assert claims[1].startswith("NOT HELD") and "threshold" in claims[1]
    assert claims[2].startswith("untested") and "not-resumed" in claims[2]
    assert by_id(root, "claim-3") is None
    attempts = [line(root, f"attempt-{i}") for i in range(2)]
    assert "boot in dcn1: ACTIVE" in attempts[0] and "boot in dcn0: ERROR" in attempts[1]


def test_hostile_text_stays_text() -> None:
    hostile = report(
        scenario=f"edge-site-loss {HOSTILE}",
        params={"site": HOSTILE},
        started=HOSTILE,
        claims=[{"claim": HOSTILE, "held": False, "evidence": HOSTILE}],
        marks=[
            {"t": 1.0, "kind": "fault", "what": "cut", "target": HOSTILE},
            {"t": 2.0, "kind": "compute", "host": HOSTILE, "state": "up"},
            {"t": 3.0, "kind": "attempt", "action": HOSTILE, "outcome": HOSTILE, "ok": False},
            {"t": 4.0, "kind": "heal", "what": "cut", "target": HOSTILE},
        ],
        timeline=[[1.0, HOSTILE]],
    )
    svg = timeline_svg(hostile)
    root = parse(svg)  # well-formed despite ]]> and a control character
    assert "<script" not in svg and "\x01" not in svg
    assert not [e for e in root.iter() if e.tag.lower().endswith("script")]
    assert not [e for e in root.iter() if e.tag.lower().endswith("foreignobject")]
    assert any("<script>alert(1)</script>]]>" in t for t in texts(root))  # shown, as text
    assert any("$\\foo$" in t for t in texts(root))  # no mathtext: drawn as written
    assert by_id(root, "fault-0") is not None
    assert "<script" not in compare_svg(hostile, report())


def test_the_document_is_self_contained_and_the_same_every_time() -> None:
    svg = timeline_svg(report())
    root = parse(svg)
    assert "<!DOCTYPE" not in svg and "<metadata" not in svg
    hrefs = [e.get(XLINK) or e.get("href") for e in root.iter()]
    assert all(h.startswith("#") for h in hrefs if h)
    urls = set(re.findall(r"url\(([^)]*)\)", svg))
    assert urls and all(u.startswith("#") for u in urls)
    assert "<image" not in svg and "@import" not in svg
    assert svg == timeline_svg(report())


def test_an_old_report_without_marks_draws_its_attempts_and_text_faults() -> None:
    old = report()
    del old["marks"]
    old["timeline"] += [
        [40.0, "stopped nova-compute on dcn0-compute-0"],
        [55.0, "started nova-compute on dcn0-compute-0 again"],
        [60.0, "killed rabbitmq on central-controller-0 (systemd restarts it)"],
    ]
    root = parse(timeline_svg(old))
    assert uses(root, "attempts-ok") == 1 and uses(root, "attempts-failed") == 1
    for i in range(3):
        assert by_id(root, f"fault-{i}") is not None
    assert by_id(root, "fault-3") is None
    assert by_id(root, "probes-ok") is None and by_id(root, "compute-0-up") is None
    assert uses(root, "events") == 5
    assert any("older report" in t for t in texts(root))


def test_an_empty_report_draws_an_empty_timeline() -> None:
    root = parse(timeline_svg({"scenario": "db-outage"}))
    assert by_id(root, "fault-0") is None and by_id(root, "attempts-ok") is None
    assert any("no claims tested" in t for t in texts(root))
    assert any("db-outage" in t for t in texts(root))


def test_malformed_marks_are_skipped_and_a_non_report_is_refused() -> None:
    bad = report(
        marks=[
            {"t": "soon", "kind": "fault", "what": "cut", "target": "x"},
            {"t": math.nan, "kind": "probe", "ok": True},
            {"t": math.inf, "kind": "probe", "ok": True},
            {"t": 1.0, "kind": "nonsense"},
            {"t": 2.0, "kind": "probe", "ok": "yes"},  # not True: drawn as failed
            "not a mark",
            {"t": 3.0, "kind": "packets", "end": 1.0, "target": "gateway"},  # ends before
        ],
        timeline="not a list",
        claims=[{"held": "maybe"}],
    )
    root = parse(timeline_svg(bad))
    assert by_id(root, "fault-0") is None and by_id(root, "packets-0") is None
    assert uses(root, "probes-ok") == 0 and uses(root, "probes-failed") == 1
    for not_a_report in ([], {"no": "scenario"}, "edge-site-loss", None):
        with pytest.raises(DcnError) as err:
            timeline_svg(not_a_report)  # type: ignore[arg-type]
        assert err.value.hint


def test_png_is_the_same_picture_as_an_image() -> None:
    png = timeline_png(report())
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1600 and height > 400
    assert b"tEXtSoftware\x00dcn" in png  # no matplotlib version or date in it


def test_compare_draws_two_drills_on_one_time_scale() -> None:
    longer = report(marks=[*report()["marks"], {"t": 90.0, "kind": "probe", "ok": True}])
    longer["id"] = 7
    root = parse(compare_svg(report(), longer))
    assert uses(root, "probes-ok") == 27 and uses(root, "second-probes-ok") == 28
    assert by_id(root, "fault-0") is not None and by_id(root, "second-fault-0") is not None
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    axes = [by_id(root, "axes_1"), by_id(root, "axes_2")]
    ticks = [[t for t in texts(a) if re.fullmatch(r"\d+", t)] for a in axes if a is not None]
    assert len(ticks) == 2 and ticks[0] == ticks[1] and "80" in ticks[0]
    shown = texts(root)
    assert any(t.startswith("drill 7: edge-site-loss") for t in shown)
    assert any(
        "threshold" in t and "upper NOT HELD" in t and "drill 7 NOT HELD" in t for t in shown
    )
    assert any("reconnect" in t and "upper held" in t and "drill 7 held" in t for t in shown)


def test_old_reports_judge_outcomes_as_drills_do() -> None:
    from dcn.drill import OK_OUTCOMES

    assert lanes_module.OK_OUTCOMES == OK_OUTCOMES


def test_drawing_code_is_not_loaded_with_the_cli() -> None:
    code = (
        "import sys, dcn.cli.app, dcn.cli.drill, dcn.pictures.timeline, dcn.pictures.files; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
