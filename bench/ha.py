"""A clustered control plane on the lab (examples/dcn-ha.yaml: three controllers, two
edges): how long it takes to deploy, what it costs in memory, and what losing
controllers costs.

Figures: lab up, central deploy (3 controllers), edges, the lab's peak memory (summed
PSS of every process in its namespaces); drill controller-loss (the VIP holder powered
off: API outage seen by a client probing every second, failed probes, the database's
write stall, the cluster whole again after the node's return); controller-return (a
controller away 20 s: time from its start until the cluster is whole); and
control-plane-power-loss (every controller off 10 s: recovery, API back, cluster whole).

    .venv/bin/python bench/ha.py [--keep]

Needs root. Brings its own lab up in a temporary directory and tears it down at the
end (unless --keep). Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lab_deploy import MemorySampler
from labrun import lab_run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dcn-ha.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with lab_run("dcn-bench-ha-", args.keep, EXAMPLE) as run:

        def timed(label: str, *argv: str) -> str:
            started = time.monotonic()
            out = run.dcn(*argv)
            figures[label] = round(time.monotonic() - started, 1)
            print(f"{label}: {figures[label]} s", flush=True)
            return out

        timed("lab up (s)", "lab", "up")
        sampler = MemorySampler("lab")
        sampler.start()
        timed("central deploy, 3 controllers (s)", "deploy", "central")
        timed("both edges (s)", "deploy", "dcn0", "dcn1", "--parallel", "2")
        timed("servers ACTIVE in both edge AZs (s)", "smoke", "--no-guests")
        figures["lab memory after deploy (MiB)"] = sampler.sample() // 2**20
        for scenario in ("controller-loss", "controller-return", "control-plane-power-loss"):
            (report,) = json.loads(run.dcn("drill", "run", scenario, "--format", "json"))
            for name, value in report["figures"].items():
                figures[f"{scenario}: {name}"] = value
            for claim in report["claims"]:
                figures[f"{scenario}: claim {claim['claim']}"] = claim["held"]
            print(f"{scenario}: done", flush=True)
        sampler.stop.set()
        figures["lab memory peak (MiB)"] = max(sampler.peak, sampler.sample()) // 2**20
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
