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

from labrun import lab_run

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
    with lab_run("dcn-drills-", args.keep) as run:
        run.dcn("lab", "up")
        run.dcn("deploy", "central")
        run.dcn("deploy", "dcn0", "dcn1")
        for label in ("default", "tuned"):
            if label == "tuned":
                text = run.desc.read_text()
                run.desc.write_text(
                    text.replace("domain: localdomain\n", "domain: localdomain\n" + TUNED)
                )
                run.dcn("deploy", "central")
                run.dcn("deploy", "dcn0", "dcn1")
            print(f"== {label} liveness settings", flush=True)
            for scenario, extra in scenarios:
                out = run.dcn("drill", "run", scenario, *extra, "--format", "json")
                (report,) = json.loads(out)
                figures = ", ".join(
                    f"{k} {'-' if v is None else f'{v:.1f}s'}" for k, v in report["figures"].items()
                )
                print(f"{scenario} {report['params']}: {figures}", flush=True)
                for c in report["claims"]:
                    verdict = {True: "held", False: "NOT HELD", None: "?"}[c["held"]]
                    print(f"    {c['claim']:<20} {verdict:<9} {c['evidence']}", flush=True)


if __name__ == "__main__":
    main()
