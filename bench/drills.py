"""Every drill scenario on its own lab, with nova's default liveness settings and then
with tuned ones, printing each scenario's recovery figures and the seed's claims.

    .venv/bin/python bench/drills.py [--quick] [--keep]

--quick: only the edge-site-loss drill (20 s and 150 s cuts) with both settings.
Needs root; brings its own lab up in a temporary directory, tears it down at the end.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
TUNED = """liveness:
  report_interval: 2
  service_down_time: 6
  heartbeat_timeout_threshold: 10
  heartbeat_rate: 2
  reconnect_interval_max: 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="edge-site-loss only")
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dcn-drills-"))
    desc = work / "dcn.yaml"
    shutil.copy(EXAMPLE, desc)
    env = {**os.environ, "DCN_FILE": str(desc), "DCN_STATE_DIR": str(work / "state")}

    def dcn(*argv: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "dcn.cli", *argv], env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            sys.exit(f"dcn {' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    scenarios: list[tuple[str, list[str]]] = [
        ("edge-site-loss", ["--cut", "20"]),
        ("edge-site-loss", ["--cut", "150"]),
    ]
    if not args.quick:
        scenarios += [
            ("control-plane-loss", ["--cut", "30"]),
            ("compute-failure", []),
            ("db-outage", ["--seconds", "15"]),
            ("broker-restart", []),
        ]
    try:
        dcn("lab", "up")
        dcn("deploy", "central")
        dcn("deploy", "dcn0", "dcn1")
        for label in ("default", "tuned"):
            if label == "tuned":
                text = desc.read_text().replace(
                    "domain: localdomain\n", "domain: localdomain\n" + TUNED
                )
                desc.write_text(text)
                dcn("deploy", "central")
                dcn("deploy", "dcn0", "dcn1")
            print(f"== {label} liveness settings", flush=True)
            for scenario, extra in scenarios:
                (report,) = json.loads(dcn("drill", "run", scenario, *extra, "--format", "json"))
                figures = ", ".join(
                    f"{k} {'-' if v is None else f'{v:.1f}s'}" for k, v in report["figures"].items()
                )
                print(f"{scenario} {report['params']}: {figures}", flush=True)
                for c in report["claims"]:
                    verdict = {True: "held", False: "NOT HELD", None: "?"}[c["held"]]
                    print(f"    {c['claim']:<20} {verdict:<9} {c['evidence']}", flush=True)
    finally:
        if not args.keep:
            subprocess.run(
                [sys.executable, "-m", "dcn.cli", "lab", "down"], env=env, capture_output=True
            )
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
