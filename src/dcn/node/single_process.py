"""Run an oslo.service program in one process: ``single_process.py PROGRAM ARGS...``.

With one worker, oslo.service's threading backend still forks: a cotyledon master
keeps a copy of the whole program (measured on a lab controller: 30-90 MiB of private
memory each for nova-conductor, nova-scheduler and neutron's periodic and OVN
maintenance workers) only to restart a worker that systemd restarts anyway. The
launcher's own ``no_fork`` mode, the one nova-compute runs in, runs the service in the
main process and handles SIGTERM itself. This program turns that mode on for a console
script of the node's OpenStack virtualenv, then runs it unchanged. Only for programs
configured with one worker: ``no_fork`` runs one copy of the service.

A launcher in ``no_fork`` mode returns when the service's ``wait()`` does, and the
program ends. neutron's OVN maintenance worker runs in threads and its ``wait()``
returns at once: under cotyledon its worker lived on; here (measured) the unit exited 0
after 35 s and stayed down. So a launcher neutron creates keeps its process until
SIGTERM, which the launcher turns into a graceful stop and an exit.

Run with the virtualenv's Python. The program's module is imported first: neutron's
selects oslo.service's backend at import time, before anything may ask for it.
"""

from __future__ import annotations

import signal
import sys
from importlib.metadata import entry_points
from typing import Any


def in_one_process(service: Any) -> None:
    """Make every launcher of `service` (``oslo_service.service``) run in process."""
    launch = service.launch

    def launch_in_process(*args: Any, **kwargs: Any) -> Any:
        kwargs["no_fork"] = True
        return launch(*args, **kwargs)

    class InProcessLauncher(service.ProcessLauncher):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["no_fork"] = True
            super().__init__(*args, **kwargs)

        def launch_service(self, *args: Any, **kwargs: Any) -> None:
            super().launch_service(*args, **kwargs)
            # the service runs in its threads: live until SIGTERM stops it
            while True:
                signal.pause()

    service.launch = launch_in_process
    service.ProcessLauncher = InProcessLauncher


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: single_process.py PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    name = argv[0]
    found = entry_points(group="console_scripts", name=name)
    if not found:
        print(f"single_process.py: no console script {name!r} here", file=sys.stderr)
        return 2
    program = next(iter(found)).load()
    from oslo_service import service

    in_one_process(service)
    sys.argv = [name, *argv[1:]]
    result = program()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
