"""What an operator sees while Ansible runs, without a terminal (CI, a pipe): a line
per changed or failed step, and a heartbeat line per site running Ansible. The clock is
the test's; the heartbeat is called, not waited for."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from dcn.cli import operate, render
from dcn.deploy.runner import StepEvent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def out(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    text = io.StringIO()
    monkeypatch.setattr(render, "out", Console(file=text, width=200, highlight=False))
    return text


def tasks(p: operate.Progress, site: str, host: str, outcomes: list[str]) -> None:
    for i, outcome in enumerate(outcomes):
        p(site, StepEvent(host, f"task {i}", "started"))
        p(site, StepEvent(host, f"task {i}", outcome))


def test_a_pipe_gets_steps_and_heartbeats(out: io.StringIO) -> None:
    clock = Clock()
    p = operate.Progress(verbose=False, live=False, heartbeat=None, clock=clock)
    assert operate.progress(False)._want_live is False  # this console is no terminal
    tasks(p, "central", "central-controller-0", ["ok"] * 55 + ["changed", "skipped"])
    p("central", StepEvent("central-controller-0", "nova_api: running", "started"))
    lines = out.getvalue().splitlines()
    # only what changed, never a "started"
    assert lines == ["central central-controller-0 task 55: changed"]
    clock.now += 10
    p.beat()
    assert out.getvalue().splitlines()[-1] == (
        "central: 1 host, 57 tasks done (1 changed), now: nova_api: running"
    )


def test_one_heartbeat_line_per_site_running_ansible(out: io.StringIO) -> None:
    clock = Clock()
    p = operate.Progress(verbose=False, live=False, heartbeat=None, clock=clock)
    tasks(p, "dcn0", "dcn0-compute-0", ["ok", "ok"])
    tasks(p, "dcn0", "dcn0-compute-1", ["ok", "failed"])
    p("dcn0", StepEvent("dcn0-compute-0", "nova_compute: running", "started"))
    tasks(p, "dcn1", "dcn1-compute-0", ["ok"])  # done: no task running there
    clock.now += 10
    assert p.heartbeat_lines() == [
        "dcn0: 2 hosts, 4 tasks done (1 failed), now: nova_compute: running"
    ]
    p("dcn0", StepEvent("dcn0-compute-0", "nova_compute: running", "ok"))
    clock.now += 10
    assert p.heartbeat_lines() == []  # the site's run ended: no line after it


def test_verbose_shows_every_step_and_failures_say_why(out: io.StringIO) -> None:
    p = operate.Progress(verbose=True, live=False, heartbeat=None, clock=Clock())
    p("central", StepEvent("h", "files", "ok"))
    p("central", StepEvent("h", "nova_api: running", "failed", "timed out [bold]x[/]"))
    assert out.getvalue().splitlines() == [
        "central h files: ok",
        "central h nova_api: running: failed timed out [bold]x[/]",
    ]


def test_the_live_view_shows_each_host(out: io.StringIO) -> None:
    """What a terminal's live view holds (rendered here to plain text)."""
    clock = Clock()
    p = operate.Progress(verbose=False, live=False, heartbeat=None, clock=clock)
    tasks(p, "central", "central-controller-0", ["ok", "changed", "ok"])
    p("central", StepEvent("central-controller-0", "keystone: units", "started"))
    render.out.print(p.view())
    row = out.getvalue().splitlines()[-1]
    for part in ("central central-controller-0", "3 tasks done", "1 changed", "0 failed"):
        assert part in row
    assert "now: keystone: units" in row


def test_summary_stops_the_heartbeat(out: io.StringIO) -> None:
    p = operate.Progress(verbose=False, live=False, heartbeat=3600, clock=Clock())
    p("central", StepEvent("h", "x", "started"))
    assert p in operate._running and p._ticker is not None
    operate._summary([])
    assert p not in operate._running and p._stop.is_set()


def test_a_terminal_gets_a_live_view_fed_by_every_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sites' threads report at once; the changed steps are printed above the view,
    which the summary takes down."""
    import threading

    text = io.StringIO()
    terminal = Console(file=text, force_terminal=True, width=160, highlight=False)
    monkeypatch.setattr(render, "out", terminal)
    p = operate.progress(False)
    assert p._want_live

    def site(name: str) -> None:
        for host in (f"{name}-0", f"{name}-1"):
            tasks(p, name, host, ["ok", "changed", "ok"])

    threads = [threading.Thread(target=site, args=(s,)) for s in ("dcn0", "dcn1", "dcn2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    operate._summary([])
    assert p._live is None and p not in operate._running
    assert text.getvalue().count("task 1: ") == 6
