"""The health gate's rules: computes up, enabled, reported since the wave started;
polled until all are well or the time is up (a fake clock: no waiting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from dcn.rollout.gate import compute_problems, poll

SINCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LATER = (SINCE + timedelta(seconds=5)).replace(tzinfo=None).isoformat()  # as nova says it
BEFORE = (SINCE - timedelta(seconds=5)).replace(tzinfo=None).isoformat()


def service(host: str, state: str = "up", status: str = "enabled", at: str | None = LATER):
    return SimpleNamespace(host=host, state=state, status=status, updated_at=at)


def test_up_enabled_and_reported_passes() -> None:
    expected = {"dcn0": ["dcn0-c0", "dcn0-c1"], "dcn1": ["dcn1-c0"]}
    services = [service("dcn0-c0"), service("dcn0-c1"), service("dcn1-c0"), service("x", "down")]
    assert compute_problems(expected, services, SINCE) == {}


def test_each_way_a_compute_fails_is_named_per_site() -> None:
    expected = {"dcn0": ["a", "b", "c", "d", "e"], "dcn1": ["f"]}
    services = [
        service("b", state="down"),
        service("c", status="disabled"),
        service("d", at=BEFORE),
        service("e", at=None),
        service("f"),
    ]
    assert compute_problems(expected, services, SINCE) == {
        "dcn0": "computes: a not registered, b down, c disabled, "
        "d has not reported since the wave started, e has not reported since the wave started"
    }


def test_an_aware_timestamp_is_compared_as_is() -> None:
    at = (SINCE + timedelta(seconds=1)).isoformat()  # with +00:00
    assert compute_problems({"s": ["h"]}, [service("h", at=at)], SINCE) == {}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_stops_as_soon_as_all_is_well() -> None:
    clock = FakeClock()
    answers = iter([{"dcn0": "down"}, {"dcn0": "down"}, {}])
    assert poll(lambda: next(answers), 120, 3, clock, clock.sleep) == {}
    assert clock.sleeps == [3, 3]


def test_poll_gives_up_after_its_timeout_with_the_last_finding() -> None:
    clock = FakeClock()
    calls = []

    def check() -> dict[str, str]:
        calls.append(clock.now)
        return {"dcn0": f"down at {clock.now:.0f}"}

    assert poll(check, 120, 3, clock, clock.sleep) == {"dcn0": "down at 120"}
    assert len(calls) == 41 and calls[-1] == 120
