"""What a drill records for its picture: marks from the same calls that write its
timeline, compute samples thinned, probes on the drill's clock, ping gaps."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

from dcn import redact
from dcn.drill import OK_OUTCOMES, Recorder, Report
from dcn.drill.controllers import ApiProbe, ProbeResult
from dcn.drill.dataplane import lost_gaps
from dcn.lab.workload import received, replied
from dcn.pictures.timeline import timeline_svg


def recorder() -> tuple[Recorder, list[str]]:
    said: list[str] = []
    report = Report(scenario="edge-site-loss", params={}, settings={}, started="now")
    return Recorder(report, said.append), said


def kinds(r: Recorder) -> list[str]:
    return [m["kind"] for m in r.report.marks]


def test_attempts_are_marks_with_their_outcome_judged() -> None:
    r, said = recorder()
    r.attempt("boot a server in dcn1 during the cut", "ACTIVE", "ACTIVE after 3.5s")
    r.attempt("an API call during the cut", "failed")
    r.attempt("boot a server in dcn0 during the cut", "ERROR", "No valid host")
    marks = r.report.marks
    assert [m["ok"] for m in marks] == [True, False, False]
    assert marks[2]["action"] == "boot a server in dcn0 during the cut"
    assert marks[2]["detail"] == "No valid host"
    assert len(r.report.attempts) == 3 and len(said) == 3  # the text record is unchanged
    assert {"ACTIVE", "succeeded", "served", "accepted"} <= OK_OUTCOMES


def test_compute_samples_are_kept_on_change_and_every_few_seconds() -> None:
    r, _ = recorder()
    for _ in range(5):  # a fast poll of an unchanged state: one sample
        r.sample({"c-0": "up", "c-1": "up"})
    r.sample({"c-0": "down", "c-1": "up"})  # a change is always kept
    samples = [(m["host"], m["state"]) for m in r.report.marks]
    assert samples == [("c-0", "up"), ("c-1", "up"), ("c-0", "down")]
    r.t0 -= 2.5  # the drill's clock moved on
    r.sample({"c-0": "down", "c-1": "up"})
    assert len(r.report.marks) == 5
    assert all(m["kind"] == "compute" and m["t"] >= 0 for m in r.report.marks)


def test_marks_are_redacted_like_the_rest_of_a_report() -> None:
    redact.remember(["s3cret-value-in-a-message"])
    r, _ = recorder()
    r.attempt("create", "refused", "auth failed with s3cret-value-in-a-message")
    r.mark("fault", what="cut", target="rabbit://u:p4ss@h:5672/")
    text = json.dumps(r.report.marks)
    assert "s3cret-value-in-a-message" not in text and "p4ss" not in text
    assert "<hidden>" in text


def test_api_probes_land_on_the_drills_clock() -> None:
    r, _ = recorder()
    probe = ApiProbe(url="http://unused", token="unused")
    probe._t0 = r.t0 + 10.0  # the probe started 10 s into the drill
    probe.results += [ProbeResult(0.0, True, 0.01), ProbeResult(1.0, False, 1.0)]
    probe.results += [ProbeResult(2.0, False, 1.0), ProbeResult(3.0, True, 0.02)]
    probe.record(r)
    assert [(m["t"], m["ok"], m["latency"]) for m in r.report.marks] == [
        (10.0, True, 0.01),
        (11.0, False, 1.0),
        (12.0, False, 1.0),
        (13.0, True, 0.02),
    ]
    assert probe.failed() == 2 and probe.outage() == 3.0 and probe.ok_since(2.5)


def test_ping_gaps_are_the_runs_of_unanswered_packets() -> None:
    out = "\n".join(
        f"64 bytes from 198.18.65.1: seq={n} ttl=64 time=0.1 ms" for n in (0, 1, 2, 5, 6, 9)
    )
    out += "\n--- 198.18.65.1 ping statistics ---\n10 packets transmitted, 6 packets received\n"
    assert replied(out) == {0, 1, 2, 5, 6, 9}
    assert received(out) == (10, 6)
    assert lost_gaps(10, replied(out), 4.0, 0.2) == [[4.6, 5.0], [5.4, 5.8]]
    assert lost_gaps(3, set(), 0.0, 0.5) == [[0.0, 1.5]]
    assert lost_gaps(3, {0, 1, 2}, 0.0, 0.5) == []


def test_a_recorded_drill_draws_its_fault_attempts_and_computes() -> None:
    r, _ = recorder()
    r.mark("fault", what="cut", target="dcn0")
    r.sample({"dcn0-compute-0": "up"})
    time.sleep(0.1)
    r.attempt("boot a server in dcn1 during the cut", "ACTIVE")
    r.sample({"dcn0-compute-0": "down"})
    r.mark("heal", what="cut", target="dcn0")
    r.claim("reconnect", True, "computes up 3.0s after heal")
    stored = json.loads(json.dumps(r.report.as_dict()))  # as the state store keeps it
    root = ET.fromstring(timeline_svg(stored))
    ids = {e.get("id") for e in root.iter()}
    assert {"fault-0", "attempts-ok", "compute-0-up", "compute-0-down", "claim-0"} <= ids
    assert kinds(r) == ["fault", "compute", "attempt", "compute", "heal"]
