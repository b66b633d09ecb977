"""Wall time of each phase of the main job on the local lab, and the lab's peak memory.

Phases: prerequisites (idempotent check or install: for full-host nodes the node image,
built or from the cache), lab up, central deploy, export, the two edge deploys (in
parallel; each site's own time too), first server ACTIVE in both edge AZs, for
full-host nodes an edge compute rebooted until a new server is ACTIVE there, then one
more edge site added to the running cloud (lab grows, site deployed, registered).
Memory: the summed PSS of every process in the lab's network
namespaces, sampled every 2 s; the peak is printed, and the part of it that networking
adds (Open vSwitch, OVN, neutron's OVN workers, the metadata agents and their haproxy).
Networking: from the start of the edge deploys to both edge guests holding their DHCP
lease (the smoke servers' guests), and the packets site-local guest traffic loses
during a 20 s cut of an edge site's uplink (drill edge-site-loss at dcn1).

    .venv/bin/python bench/lab_deploy.py [--keep]

Needs root. Brings its own lab up in a temporary directory and tears it down at the
end (unless --keep). Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import threading
import time
from pathlib import Path

from labrun import lab_run

EXTRA_SITE = """
  - name: dcn2
    kind: edge
    roles:
      DistributedCompute: {count: 1}
    networks:
      ctlplane:     {cidr: 198.18.3.0/24,  gateway: 198.18.3.1}
      internal_api: {cidr: 198.18.19.0/24, gateway: 198.18.19.1}
      tenant:       {cidr: "fd00:dc:1:3::/64", gateway: "fd00:dc:1:3::1"}
      storage:      {cidr: 198.18.35.0/24, gateway: 198.18.35.1}
"""


#: processes networking adds (matched in the command line)
NETWORKING = (
    "ovsdb-server",
    "ovs-vswitchd",
    "ovn-northd",
    "ovn-controller",
    "neutron-ovn-metadata-agent",
    "haproxy",
    "neutron-periodic-workers",
    "neutron-ovn-maintenance-worker",
    "ovnmeta_offload",
    "privsep-helper",
)


class MemorySampler(threading.Thread):
    """Peak of the summed PSS of every process in namespaces named dcn-<name>-*, and of
    the networking processes among them."""

    def __init__(self, deployment: str) -> None:
        super().__init__(daemon=True)
        self.prefix = f"dcn-{deployment}-"
        self.peak = 0
        self.networking = 0
        self.stop = threading.Event()

    def sample(self) -> int:
        """Summed PSS (shared pages split between their users; RSS would count a
        gunicorn worker's pages shared with its master twice)."""
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        total = networking = 0
        for line in names.splitlines():
            ns = line.split()[0] if line.strip() else ""
            if not ns.startswith(self.prefix):
                continue
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    status = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                m = re.search(r"^Pss:\s+(\d+) kB", status, re.M)
                pss = int(m.group(1)) * 1024 if m else 0
                total += pss
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    cmdline = b""
                if any(name.encode() in cmdline for name in NETWORKING):
                    networking += pss
        self.networking = max(self.networking, networking)
        return total

    def run(self) -> None:
        while not self.stop.wait(2.0):
            self.peak = max(self.peak, self.sample())


def boot_server(run, name: str, az: str) -> None:  # run: labrun.LabRun
    """A new server in `az`, waited for until ACTIVE (bounded)."""
    from dcn.cloud import admin_connection, ensure_image_and_flavor
    from dcn.workspace import Workspace

    conn = admin_connection(Workspace(run.desc, run.work / "state"))
    image, flavor = ensure_image_and_flavor(conn)
    server = conn.compute.create_server(
        name=name, image_id=image.id, flavor_id=flavor.id, networks="none", availability_zone=az
    )
    conn.compute.wait_for_server(server, status="ACTIVE", wait=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    args = parser.parse_args()
    figures: list[tuple[str, float]] = []
    sampler = MemorySampler("lab")
    sampler.start()
    with lab_run("dcn-bench-", args.keep) as run:

        def dcn(label: str, *argv: str) -> str:
            started = time.monotonic()
            out = run.dcn(*argv, what=label)
            seconds = time.monotonic() - started
            figures.append((label, seconds))
            print(f"{label:<40} {seconds:7.1f} s", flush=True)
            return out

        try:
            dcn("prerequisites", "lab", "prereqs")
            dcn("lab up", "lab", "up", "--skip-prereqs")
            dcn("central deploy", "deploy", "central")
            dcn("export", "export", "central", "-o", str(run.work / "central-export.yaml"))
            out = dcn("edge deploys dcn0 + dcn1 (parallel)", "deploy", "dcn0", "dcn1")
            row = r"│ (dcn\d) +│ \d+ +│ deployed.*?│ +\d+ +│ ([\d.]+)s"
            for site, secs in re.findall(row, out):
                print(f"  {site} on its own{'':<27} {float(secs):7.1f} s")
            dcn("first server ACTIVE in both edge AZs (+ guests)", "smoke")
            to_active = sum(s for label, s in figures if label != "prerequisites")
            leases = sum(s for label, s in figures[-2:])
            print(f"{'edge deploys start to both guests DHCP':<40} {leases:7.1f} s")
            print(f"{'from prerequisites in place to ACTIVE':<40} {to_active:7.1f} s")
            if "fullhost" in run.dcn("lab", "status", "--format", "json", what="lab status"):
                started = time.monotonic()
                dcn("  reboot dcn0's compute", "lab", "node", "reboot", "dcn0-distributedcompute-0")
                boot_server(run, "after-reboot", "dcn0")
                took = time.monotonic() - started
                print(f"{'rebooted edge node to a new server ACTIVE':<40} {took:7.1f} s")
            # one more site, in the sites list (workload_networks follow the sites)
            text = run.desc.read_text()
            run.desc.write_text(
                text.replace("\nworkload_networks:", EXTRA_SITE + "\nworkload_networks:", 1)
            )
            started = time.monotonic()
            dcn("  lab grows by dcn2", "lab", "up", "--skip-prereqs")
            dcn("  deploy dcn2", "deploy", "dcn2")
            dcn("  server ACTIVE in dcn2", "smoke", "dcn2")
            took = time.monotonic() - started
            print(f"{'one more edge site, to a server ACTIVE':<40} {took:7.1f} s")
            sampler.peak = max(sampler.peak, sampler.sample())
            print(f"{'peak memory of the lab (PSS sum)':<40} {sampler.peak / 2**30:7.2f} GiB")
            mib = sampler.networking / 2**20
            print(f"{'  of it networking (OVS, OVN, metadata)':<40} {mib:7.0f} MiB")
            out = run.dcn(
                "drill",
                "run",
                "edge-site-loss",
                "--site",
                "dcn1",
                "--cut",
                "20",
                "--format",
                "json",
                what="drill edge-site-loss",
            )
            (report,) = json.loads(out)
            f = report["figures"]
            print(
                f"{'site-local pings lost in a 20 s cut':<40} "
                f"{f.get('gateway_pings_lost')}/{f.get('gateway_pings_sent')} to the gateway, "
                f"{f.get('peer_pings_lost')}/{f.get('peer_pings_sent')} to the other guest"
            )
            print(f"{'metadata back after heal':<40} {f.get('metadata_back_after_heal')} s")
        finally:
            sampler.stop.set()


if __name__ == "__main__":
    main()
