"""Fleet figures: 1 central + N edge sites x 1 compute in the lab.

Phases: lab up (every node), central deploy, the first deploy of every edge
(`dcn deploy EDGES --parallel P`), then a central change that every edge must take, a
rotated secret (`--change`), rolled out with `dcn rollout --max-parallel P`:
NovaPassword by default (the edges' computes keep working until they take it), or
RabbitPassword (the broker's password changes with central's deploy: every edge's
computes are cut off and retry until their site is rolled out). Printed: edge sites
per minute for the first deploy and the rollout, each wave's time, dcn's own CPU
seconds per site (dcn's process alone, and with Ansible, its children), the lab's peak
memory and its memory per added edge.

    .venv/bin/python bench/fleet.py [--edges 20] [--parallel 5] [--change SECRET] [--keep]

Needs root. Brings its own lab up in a temporary directory and tears it down at the
end (unless --keep). Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from lab_deploy import MemorySampler

ROOT = Path(__file__).resolve().parents[1]
#: runs dcn's CLI and writes its own and its children's CPU seconds to a file at exit
CPU_WRAPPER = """
import atexit, json, os, resource, runpy, sys
def _cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["DCN_BENCH_CPU"], "w") as f:
        json.dump({"self": me.ru_utime + me.ru_stime,
                   "children": kids.ru_utime + kids.ru_stime}, f)
atexit.register(_cpu)
sys.argv = ["dcn", *sys.argv[1:]]
runpy.run_module("dcn.cli", run_name="__main__")
"""


class Fleet:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = {
            **os.environ,
            "DCN_FILE": str(work / "dcn.yaml"),
            "DCN_STATE_DIR": str(work / "state"),
            "DCN_BENCH_CPU": str(work / "cpu.json"),
            "COLUMNS": "200",
        }

    def dcn(self, *argv: str) -> tuple[str, float, dict[str, float]]:
        """Run dcn; its output, wall seconds and CPU seconds (self, children)."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", CPU_WRAPPER, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"dcn {' '.join(argv)} failed:\n{result.stdout[-4000:]}\n{result.stderr}")
        cpu = json.loads((self.work / "cpu.json").read_text())
        return result.stdout, wall, cpu


def waves(report: dict) -> list[tuple[int, int, float]]:
    """(wave, sites, seconds from its first start to its last finish) per wave."""
    spans: dict[int, list[datetime]] = {}
    counts: dict[int, int] = {}
    for site in report.get("sites", []):
        wave = int(site["wave"])
        counts[wave] = counts.get(wave, 0) + 1
        for key in ("started", "finished"):
            if site.get(key):
                spans.setdefault(wave, []).append(datetime.fromisoformat(site[key]))
    return [
        (w, counts[w], (max(spans[w]) - min(spans[w])).total_seconds() if spans.get(w) else 0.0)
        for w in sorted(counts)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=5)
    parser.add_argument("--change", default="NovaPassword", help="the secret rotated")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dcn-fleet-"))
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generate.py"),
            *("--edges", str(args.edges), "--computes", "1", "--controllers", "1"),
            *("--out", str(work)),
        ],
        check=True,
        capture_output=True,
    )
    fleet = Fleet(work)
    edges = [f"dcn{i}" for i in range(args.edges)]
    sampler = MemorySampler("fleet")
    sampler.start()
    figures: list[tuple[str, str]] = []

    def note(label: str, value: str) -> None:
        figures.append((label, value))
        print(f"{label:<52} {value}", flush=True)

    try:
        _, wall, _ = fleet.dcn("lab", "up")
        note(f"lab up ({args.edges + 1} nodes)", f"{wall:7.1f} s")
        _, wall, _ = fleet.dcn("deploy", "central")
        note("central deploy", f"{wall:7.1f} s")
        time.sleep(4)
        central_mem = sampler.sample()
        note("lab memory, central only (PSS)", f"{central_mem / 2**20:7.0f} MiB")

        _, wall, cpu = fleet.dcn("deploy", *edges, "--parallel", str(args.parallel))
        note(
            f"first deploy of {args.edges} edges (--parallel {args.parallel})",
            f"{wall:7.1f} s = {args.edges / wall * 60:5.1f} sites/min",
        )
        note(
            "dcn CPU per site, first deploy (self / with Ansible)",
            f"{cpu['self'] / args.edges:5.2f} s / {cpu['children'] / args.edges:5.2f} s",
        )
        time.sleep(4)
        fleet_mem = sampler.sample()
        note(
            "lab memory per added edge site (PSS)",
            f"{(fleet_mem - central_mem) / args.edges / 2**20:7.0f} MiB",
        )

        fleet.dcn("secrets", "rotate", args.change)
        _, wall, _ = fleet.dcn("deploy", "central")
        note(f"central change ({args.change} rotated) deployed", f"{wall:7.1f} s")
        _, wall, cpu = fleet.dcn(
            "rollout", "--max-parallel", str(args.parallel), "--format", "json"
        )
        note(
            f"rollout of {args.edges} edges (--max-parallel {args.parallel})",
            f"{wall:7.1f} s = {args.edges / wall * 60:5.1f} sites/min",
        )
        note(
            "dcn CPU per site, rollout (self / with Ansible)",
            f"{cpu['self'] / args.edges:5.2f} s / {cpu['children'] / args.edges:5.2f} s",
        )
        shown, _, _ = fleet.dcn("rollout", "show", "--format", "json")
        for wave, sites, seconds in waves(json.loads(shown)):
            note(f"  wave {wave} ({sites} sites, deploy + gate)", f"{seconds:7.1f} s")
        note("peak memory of the lab (PSS sum)", f"{sampler.peak / 2**30:7.2f} GiB")
    finally:
        sampler.stop.set()
        if not args.keep:
            subprocess.run(
                [sys.executable, "-m", "dcn.cli", "lab", "down"],
                env=fleet.env,
                capture_output=True,
            )
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(dict(figures), indent=1))


if __name__ == "__main__":
    main()
