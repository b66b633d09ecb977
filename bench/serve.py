#!/usr/bin/env python3
"""The web view at fleet scale: 1 control plane + N edge sites, planned (no host), then
`dcn serve` on a free loopback port.

For each fleet size: the time the server took for the fleet page's first page (50
rows; the first request, which reads the fleet, and then the median and worst of
warm ones, from the Server-Timing header and as the client saw it), its bytes, the
live table's poll, a filtered and a sorted page, a site page, the topology, and the
serve process's memory (RSS now and its peak). Goal: under 300 ms and under 1 MB for
the first page at 5,000 sites.

    .venv/bin/python bench/serve.py                    # 1,000 and 5,000 edge sites
    .venv/bin/python bench/serve.py --edges 200 --computes 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plan_scale import generate  # noqa: E402 - the fleet generator the other benches use

WARM = 20


def plan(file: Path, state: Path) -> float:
    """Record every site's plan (what `dcn plan` does); its wall time."""
    code = (
        "import sys; from dcn.workspace import Workspace; "
        "ws = Workspace(sys.argv[1], sys.argv[2]); ws.plan()"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(file), str(state)], check=True)
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
        timing = r.headers.get("server-timing", "")
    client_ms = (time.perf_counter() - t0) * 1000
    found = re.search(r"dur=([\d.]+)", timing)
    return {
        "server_ms": float(found[1]) if found else None,
        "client_ms": client_ms,
        "bytes": len(body),
        "body": body,
    }


def memory(pid: int) -> dict[str, float]:
    """RSS now and its peak (VmHWM), MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def measure(edges: int, computes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dcn-bench-serve-") as tmp:
        root = Path(tmp)
        file, state = generate(root, edges, computes), root / "state"
        plan_s = plan(file, state)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCN_")}
        where = ["-f", str(file), "--state-dir", str(state)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "dcn.cli", *where, "serve", "--bind", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    urllib.request.urlopen(f"{base}/static/app.css", timeout=2).close()
                    break
                except OSError as exc:
                    if proc.poll() is not None or time.perf_counter() - t0 > 120:
                        why = proc.stderr.read().decode() if proc.stderr else ""
                        raise SystemExit(why) from exc
                    time.sleep(0.1)
            start_s = time.perf_counter() - t0
            first = fetch(f"{base}/fleet")
            rows = len(re.findall(rb'<tr data-site="', first["body"]))
            warm = [fetch(f"{base}/fleet") for _ in range(WARM)]
            pages = {
                "poll (/fleet/rows)": fetch(f"{base}/fleet/rows"),
                "filtered (?q=dcn42)": fetch(f"{base}/fleet?q=dcn42"),
                "sorted (?sort=status&dir=desc)": fetch(f"{base}/fleet?sort=status&dir=desc"),
                "last page": fetch(f"{base}/fleet?page=100000"),
                "a site (/sites/dcn1)": fetch(f"{base}/sites/dcn1"),
                "topology (8 sites)": fetch(f"{base}/topology"),
            }
            for _ in range(3):  # the numbers above again, once every page is warm
                pages = {name: fetch(f"{base}{_path(name)}") for name in pages}
            mem = memory(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return {
            "edges": edges,
            "computes": computes,
            "plan_s": plan_s,
            "start_s": start_s,
            "rows": rows,
            "first": first,
            "warm_server_ms": [w["server_ms"] for w in warm],
            "warm_client_ms": [w["client_ms"] for w in warm],
            "warm_bytes": warm[-1]["bytes"],
            "pages": pages,
            "memory": mem,
        }


def _path(name: str) -> str:
    found = re.search(r"\((/[^)]*|\?[^)]*)\)", name)
    if name == "last page":
        return "/fleet?page=100000"
    if name.startswith("topology"):
        return "/topology"
    assert found, name
    path = found[1]
    return path if path.startswith("/") else f"/fleet{path}"


def report(m: dict[str, Any]) -> None:
    print(
        f"\n1 control plane + {m['edges']:,} edge sites x {m['computes']} computes "
        f"(planned in {m['plan_s']:.1f} s; dcn serve answered {m['start_s']:.1f} s after start)"
    )
    first = m["first"]
    print(
        f"  fleet page 1 ({m['rows']} rows), first request (reads the fleet): "
        f"server {first['server_ms']:.0f} ms, client {first['client_ms']:.0f} ms, "
        f"{first['bytes'] / 1024:.1f} KiB"
    )
    s, c = m["warm_server_ms"], m["warm_client_ms"]
    print(
        f"  fleet page 1, {len(s)} more requests: server median {statistics.median(s):.1f} ms "
        f"(worst {max(s):.1f}), client median {statistics.median(c):.1f} ms "
        f"(worst {max(c):.1f}), {m['warm_bytes'] / 1024:.1f} KiB"
    )
    for name, page in m["pages"].items():
        print(
            f"  {name}: server {page['server_ms']:.1f} ms, client {page['client_ms']:.1f} ms, "
            f"{page['bytes'] / 1024:.1f} KiB"
        )
    mem = m["memory"]
    print(f"  serve process: RSS {mem['VmRSS']:.0f} MiB, peak {mem['VmHWM']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, action="append", help="default: 1000 and 5000")
    parser.add_argument("--computes", type=int, default=2, help="computes per edge site")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    for edges in args.edges or [1000, 5000]:
        m = measure(edges, args.computes)
        report(m)
        if args.json:
            out = {k: v for k, v in m.items() if k not in ("first", "pages")}
            print(json.dumps(out))


if __name__ == "__main__":
    main()
