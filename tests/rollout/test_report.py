"""A recorded rollout's figures: results, where unfinished sites stand, the time spent
in waves (not the pause before a resume), sites per minute, what to run next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dcn.rollout.report import as_dict, next_command, site_state, totals
from dcn.state.rollouts import RolloutRecord, RolloutSiteRecord, RolloutStatus, SiteResult

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def site(name, wave, result, start=None, end=None) -> RolloutSiteRecord:
    return RolloutSiteRecord(
        name,
        wave,
        1,
        2 if start is not None else None,
        start,
        end,
        20.0 if end else None,
        result,
        "",
    )


def rollout(status: RolloutStatus, *sites: RolloutSiteRecord) -> RolloutRecord:
    return RolloutRecord(7, "lab", T0, None, {"max_parallel": 2}, status, "pid 1 on h", sites)


STOPPED = rollout(
    RolloutStatus.STOPPED,
    site("dcn1", 1, SiteResult.OK, at(0), at(30)),
    site("dcn2", 2, SiteResult.OK, at(40), at(60)),
    site("dcn3", 2, SiteResult.GATE_FAILED, at(40), at(90)),
    site("dcn4", 3, SiteResult.NOT_STARTED),
)


def test_totals_of_a_stopped_rollout() -> None:
    t = totals(STOPPED)
    assert (t.sites, t.ok, t.failed, t.gate_failed, t.not_started, t.pending) == (4, 2, 1, 1, 1, 0)
    assert (t.waves, t.waves_run) == (3, 2)
    assert t.seconds == 80.0  # wave 1: 30 s, wave 2: 50 s
    assert t.sites_per_minute == 2.25  # 3 sites with a result in 80 s
    assert t.line() == (
        "4 sites: 2 ok, 1 failed (1 at the gate), 1 not started; 2 of 3 waves; "
        "2.2 sites/min over 80s"
    )
    assert next_command(STOPPED) == "dcn rollout --resume"


def test_the_pause_before_a_resume_is_not_counted() -> None:
    resumed = rollout(
        RolloutStatus.DONE,
        site("dcn1", 1, SiteResult.OK, at(0), at(30)),  # before the kill
        site("dcn2", 1, SiteResult.OK, at(3600), at(3620)),  # resumed an hour later
    )
    assert totals(resumed).seconds == 50.0
    assert next_command(resumed) == ""


def test_unfinished_sites_say_where_they_stand() -> None:
    cut = rollout(
        RolloutStatus.INTERRUPTED,
        site("dcn1", 1, None, at(0)),
        site("dcn2", 2, None),
    )
    assert [site_state(cut, s) for s in cut.sites] == ["interrupted", "not reached"]
    running = rollout(RolloutStatus.RUNNING, *cut.sites)
    assert [site_state(running, s) for s in running.sites] == ["in progress", "waiting"]
    t = totals(cut)
    assert t.pending == 2 and t.sites_per_minute is None and "no site finished" in t.line()


def test_failed_sites_of_a_finished_rollout_are_the_next_command() -> None:
    done = rollout(
        RolloutStatus.DONE,
        site("dcn1", 1, SiteResult.FAILED, at(0), at(10)),
        site("dcn2", 1, SiteResult.GATE_FAILED, at(0), at(20)),
    )
    assert next_command(done) == "dcn rollout dcn1 dcn2"


def test_json_has_every_site_and_the_totals() -> None:
    data = as_dict(STOPPED)
    assert data["id"] == 7 and data["status"] == "stopped"
    assert [s["result"] for s in data["sites"]] == ["ok", "ok", "gate-failed", "not-started"]
    assert data["sites"][0]["generation_after"] == 2
    assert data["totals"]["waves"] == 3 and data["next"] == "dcn rollout --resume"
