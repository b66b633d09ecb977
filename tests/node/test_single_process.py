"""``single_process.py`` on a node: an oslo.service program's launchers forced into
``no_fork`` mode (no cotyledon master), and clear refusals of a bad command line."""

from __future__ import annotations

import signal
import subprocess
import sys
import types
from typing import Any

import pytest

from dcn.node import single_process


def oslo_service_stand_in() -> tuple[types.SimpleNamespace, list[dict[str, Any]]]:
    """What `in_one_process` touches of ``oslo_service.service``: `launch` and
    `ProcessLauncher`, recording the keyword arguments they were given."""
    calls: list[dict[str, Any]] = []

    def launch(conf: object, service: object, workers: int = 1, **kwargs: Any) -> str:
        calls.append({"workers": workers, **kwargs})
        return "launcher"

    class ProcessLauncher:
        def __init__(self, conf: object, restart_method: str = "reload", no_fork: bool = False):
            calls.append({"restart_method": restart_method, "no_fork": no_fork})

    return types.SimpleNamespace(launch=launch, ProcessLauncher=ProcessLauncher), calls


def test_nova_style_launch_runs_in_process_even_when_told_otherwise() -> None:
    """nova's serve() passes ``no_fork=False`` explicitly: it is overridden."""
    service, calls = oslo_service_stand_in()
    single_process.in_one_process(service)
    assert service.launch("conf", "server", workers=1, restart_method="mutate", no_fork=False)
    assert calls == [{"workers": 1, "restart_method": "mutate", "no_fork": True}]


def test_neutron_style_process_launcher_runs_in_process() -> None:
    service, calls = oslo_service_stand_in()
    original = service.ProcessLauncher
    single_process.in_one_process(service)
    launcher = service.ProcessLauncher("conf", restart_method="mutate")
    assert isinstance(launcher, original)
    assert calls == [{"restart_method": "mutate", "no_fork": True}]


@pytest.mark.parametrize(
    ("argv", "message"),
    [([], "usage: single_process.py PROGRAM"), (["no-such-program"], "'no-such-program'")],
)
def test_bad_command_lines_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert single_process.main(argv) == 2
    assert message in capsys.readouterr().err


KEEPS_RUNNING = """
import os, signal, sys, types
from dcn.node import single_process

class ProcessLauncher:
    def __init__(self, conf, no_fork=False):
        # oslo's in-process launcher: SIGTERM stops the service and exits
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

    def launch_service(self, service, workers=1):
        print("started", flush=True)  # then its wait() returns at once

service = types.SimpleNamespace(launch=None, ProcessLauncher=ProcessLauncher)
single_process.in_one_process(service)
service.ProcessLauncher("conf").launch_service("worker")
sys.exit(3)  # the program ending: what happened to the OVN maintenance worker
"""


def test_a_service_whose_wait_returns_lives_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KEEPS_RUNNING], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
