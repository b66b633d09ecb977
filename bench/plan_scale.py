#!/usr/bin/env python3
"""Planning at fleet scale: 1 control plane + N edge sites x M computes.

Prints wall time and peak memory (RSS) of validate + plan + render + record + export
for every site on an empty state store, then of re-planning after a change to one
site. Each measured run is its own process so its peak memory is its own.

    .venv/bin/python bench/plan_scale.py --edges 1000 --computes 10
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(file: str, state: str, export: str | None) -> None:
    """One measured run in this process; prints a JSON line of figures."""
    t0 = time.perf_counter()
    from dcn.workspace import Workspace

    t_import = time.perf_counter()
    ws = Workspace(file, state)
    result = ws.validation
    assert result.ok, [f.as_dict() for f in result.errors[:3]]
    t_validate = time.perf_counter()
    results = ws.plan()
    t_plan = time.perf_counter()
    figures = {
        "import_s": t_import - t0,
        "load_validate_s": t_validate - t_import,
        "plan_render_record_s": t_plan - t_validate,
        "sites": len(results),
        "changed": sum(r.changed for r in results),
        "nodes": sum(len(r.plan.nodes) for r in results if r.changed),
        "files": sum(len(n.files) for r in results if r.changed for n in r.plan.nodes),
    }
    if export:
        ws.export("central", Path(export), force=True)
        figures["export_s"] = time.perf_counter() - t_plan
    figures["total_s"] = time.perf_counter() - t_import
    figures["peak_rss_mib"] = _peak_mib()
    print(json.dumps(figures))


def measured(file: Path, state: Path, export: Path | None) -> dict[str, float]:
    args = [sys.executable, __file__, "--phase", str(file), str(state)]
    if export:
        args.append(str(export))
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def change_one_site(file: Path) -> str:
    """Add one compute to a site in the middle of the fleet; return its name."""
    sites = sorted((file.parent / "sites").glob("*.yaml"))
    target = sites[len(sites) // 2]
    text = target.read_text()
    text, n = re.subn(
        r"(DistributedCompute: \{count: )(\d+)", lambda m: f"{m[1]}{int(m[2]) + 1}", text
    )
    assert n == 1
    target.write_text(text)
    return target.stem


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        run_phase(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1000)
    parser.add_argument("--computes", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dcn-bench-") as tmp:
        root = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                str(HERE.parent / "examples" / "generate.py"),
                "--edges",
                str(args.edges),
                "--computes",
                str(args.computes),
                "--out",
                str(root / "fleet"),
            ],
            check=True,
            capture_output=True,
        )
        file, state = root / "fleet" / "dcn.yaml", root / "state"
        full = measured(file, state, root / "export.yaml")
        site = change_one_site(file)
        replan = measured(file, state, None)
        t = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "dcn"),
                "-f",
                str(file),
                "--state-dir",
                str(state),
                "plan",
                site,
                "--format",
                "json",
            ],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - t
    print(
        f"fleet: 1 control plane + {args.edges} edge sites x {args.computes} computes "
        f"= {full['nodes']} nodes, {full['files']} rendered files"
    )
    print(
        f"full   : load+validate {full['load_validate_s']:.2f} s, plan+render+record "
        f"{full['plan_render_record_s']:.2f} s, export {full['export_s']:.2f} s, "
        f"total {full['total_s']:.2f} s, peak RSS {full['peak_rss_mib']:.0f} MiB "
        f"(imports {full['import_s']:.2f} s)"
    )
    print(
        f"re-plan: one site changed ({site}): {replan['changed']} site re-planned, total "
        f"{replan['total_s']:.2f} s (load+validate {replan['load_validate_s']:.2f} s, "
        f"plan+record {replan['plan_render_record_s']:.2f} s), peak RSS "
        f"{replan['peak_rss_mib']:.0f} MiB (imports {replan['import_s']:.2f} s)"
    )
    print(f"cli    : 'dcn plan {site}' end to end, with interpreter start and imports: {cli:.2f} s")


if __name__ == "__main__":
    main()
