"""The local lab: the description's nodes as full hosts on this machine.

`Lab.up` builds the fabric (`dcn.lab.topology`) and boots each node, a systemd-nspawn
container in its network namespace (`dcn.lab.fullhost`); `Lab.down` removes exactly what
the lab's manifest lists (a lab an older dcn built with namespace nodes too). The
manifest and the SSH keys live in ``<state dir>/lab`` (0700). Ansible then reaches lab
nodes over SSH as it would real hosts: `connection()` gives the SSH settings the deploy
uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dcn.errors import DcnError
from dcn.lab import fabric, fullhost, prereqs, proxy, topology
from dcn.lab.workload import (
    Lease,
    Workload,
    attach_argv,
    detach_argv,
    parse_lease,
    run_in_node,
)
from dcn.lab.workload import (
    exec_argv as workload_exec_argv,
)
from dcn.paths import confined
from dcn.plan.types import StackPlan

Say = Callable[[str], None]
MANIFEST = "manifest.json"
STOP_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class Connection:
    """How Ansible reaches nodes: a private key, known host keys, a user."""

    private_key: Path
    known_hosts: Path | None
    user: str = "root"
    #: lab nodes: reached inside the lab's own subnets
    lab: bool = False

    @classmethod
    def from_env(cls) -> Connection:
        """Real hosts: DCN_SSH_KEY (default ~/.ssh/id_ed25519), DCN_SSH_USER (root;
        another user deploys with sudo), DCN_KNOWN_HOSTS (default: ssh's own)."""
        key = os.environ.get("DCN_SSH_KEY") or str(Path.home() / ".ssh" / "id_ed25519")
        known = os.environ.get("DCN_KNOWN_HOSTS")
        return cls(
            Path(key), Path(known) if known else None, os.environ.get("DCN_SSH_USER", "root")
        )


class Lab:
    def __init__(self, state_dir: Path, deployment: str) -> None:
        self.dir = (state_dir / "lab").resolve()
        self.deployment = deployment

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return None

    def write_manifest(self, data: dict) -> None:
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.chmod(0o600)
        tmp.replace(self.manifest_path)

    def checked_manifest(self) -> dict | None:
        """The manifest of a lab this dcn runs (None: no lab is up); a lab an older dcn
        built with namespace nodes is refused, with what to do."""
        manifest = self.manifest()
        if manifest is not None:
            fullhost.require_fullhost(manifest)
        return manifest

    def connection(self) -> Connection:
        self.checked_manifest()
        return Connection(self.dir / "id_ed25519", self.dir / "known_hosts", lab=True)

    def _client_key(self) -> str:
        key = self.dir / "id_ed25519"
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcn-lab", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        return (self.dir / "id_ed25519.pub").read_text()

    def up(self, plans: Sequence[StackPlan], say: Say, image: Path) -> topology.LabTopology:
        """Build the fabric and boot every node from `image` (the plans of every site,
        control plane first). On a running lab, only the sites and the nodes it does not
        have yet are added (a site scaled out gets its new nodes; nothing else moves)."""
        manifest = self.checked_manifest()
        topo = topology.build(
            self.deployment, plans, (manifest or {}).get("sites") if manifest else None
        )
        if manifest is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.dir.chmod(0o700)
            manifest = {
                "deployment": self.deployment,
                "namespaces": [],
                "host_link": topo.host_link,
                "sites": {},
                "nodes": {},
                "kind": fullhost.kind_from_env(),
            }
            new_parts = list(topo.parts)
        else:
            broken = [r["node"] for r in self.status() if not (r["netns"] and r["sshd"])]
            if broken:
                raise DcnError(
                    f"lab nodes are down: {', '.join(broken)}",
                    hint="start them ('dcn lab node start NODE'), or 'dcn lab down' then "
                    "'dcn lab up' to rebuild the lab",
                )
            have = {topology.node_part(h) for h in manifest["nodes"]} | set(manifest["sites"])
            new_parts = [k for k in topo.parts if k and k not in have]
            moved = self._readdress(topo, manifest, say)
            if not new_parts:
                say(
                    "already up"
                    if not moved
                    else f"{len(moved)} nodes moved to their planned addresses"
                )
                return topo
        # recorded before anything is created, so a failed build is removed by 'down'
        for key in new_parts:
            manifest["namespaces"] += topo.parts[key].namespaces
            if key in topo.leaves:
                manifest["sites"][key] = topo.indices[key]
                # a cut link loses its routes; healing puts these back
                manifest.setdefault("routes", {})[key] = {
                    ns: [c for c in cmds if c.startswith("route ")]
                    for ns, cmds in topo.parts[key].config.items()
                    if ns in (topo.spine, topo.leaves[key])
                }
                # the machine's own routes to the site: removing the site deletes them
                manifest.setdefault("host_routes", {})[key] = [
                    c for c in topo.parts[key].host if c.startswith("route add ")
                ]
        self.write_manifest(manifest)
        fabric.build(topo, new_parts)
        sites = [k for k in new_parts if k in topo.leaves]
        if sites:
            say(f"fabric: {len(sites)} sites added ({', '.join(sites)})")
        hostnames = [n.hostname for n in topo.nodes if topology.node_part(n.hostname) in new_parts]
        self._boot(topo, plans, hostnames, manifest, image, say)
        return topo

    def _readdress(self, topo: topology.LabTopology, manifest: dict, say: Say) -> list[str]:
        """Running nodes take the addresses their plan gives them now (an address change
        in the description): what is not planned goes, what is planned comes."""
        moved = []
        for node in topo.nodes:
            entry = manifest["nodes"].get(node.hostname)
            if entry is None:
                continue
            changes = fabric.readdress(node.netns, node.interfaces)
            if not changes:
                continue
            if entry["ssh_address"] != node.ssh_address:
                self._rekey(entry["ssh_address"], node.ssh_address)
                entry["ssh_address"] = node.ssh_address
                self.write_manifest(manifest)
            moved.append(node.hostname)
            say(f"node {node.hostname}: {', '.join(changes)}")
        return moved

    def _rekey(self, old: str, new: str) -> None:
        """The node's host key, known at its new address too."""
        path = self.dir / "known_hosts"
        lines = path.read_text().splitlines() if path.exists() else []
        keys = [ln.split(" ", 1)[1] for ln in lines if ln.split(" ", 1)[0] == old]
        path.write_text("".join(f"{ln}\n" for ln in lines + [f"{new} {k}" for k in keys]))

    def remove_nodes(self, hostnames: Sequence[str], say: Say) -> list[str]:
        """Power nodes off for good: their machines, roots, namespaces (the links to the
        leaf go with them) and host keys. The rest of the lab is not touched."""
        manifest = self.checked_manifest()
        if manifest is None:
            return []
        removed = []
        for hostname in hostnames:
            entry = manifest["nodes"].get(hostname)
            if entry is None:
                continue
            fullhost.stop(entry)
            self._stop_all([entry["netns"]])
            fabric.remove([entry["netns"]], None)
            manifest["namespaces"] = [n for n in manifest["namespaces"] if n != entry["netns"]]
            del manifest["nodes"][hostname]
            self.write_manifest(manifest)
            self._forget(entry["ssh_address"])
            removed.append(hostname)
            say(f"node {hostname} removed")
        return removed

    def remove_site(self, site: str, say: Say) -> list[str]:
        """Remove a site from the lab: its nodes, its leaf router (the spine's end of its
        uplink and the spine's routes through it go with it) and the machine's routes."""
        manifest = self.checked_manifest()
        if manifest is None:
            return []
        nodes = sorted(h for h, e in manifest["nodes"].items() if e["site"] == site)
        removed = self.remove_nodes(nodes, say)
        manifest = self.checked_manifest() or manifest
        if site not in manifest["sites"]:
            return removed
        leaf = topology.netns_name(self.deployment or manifest["deployment"], f"leaf-{site}")
        self._stop_all([leaf])
        fabric.remove([leaf], None)
        fabric.host_commands(
            [
                c.replace("route add ", "route del ", 1)
                for c in manifest.get("host_routes", {}).get(site, [])
            ]
        )
        manifest["namespaces"] = [n for n in manifest["namespaces"] if n != leaf]
        for key in ("sites", "routes", "host_routes"):
            manifest.get(key, {}).pop(site, None)
        manifest["cut"] = [s for s in manifest.get("cut", []) if s != site]
        self.write_manifest(manifest)
        say(f"site {site} removed from the lab")
        return removed

    def _known(self, address: str, key: str) -> None:
        self._forget(address)  # a node built again at an address has a new key
        with open(self.dir / "known_hosts", "a") as known:
            known.write(f"{address} ssh-ed25519 {key}\n")

    def _forget(self, address: str) -> None:
        path = self.dir / "known_hosts"
        if path.exists():
            kept = [ln for ln in path.read_text().splitlines() if ln.split(" ", 1)[0] != address]
            path.write_text("".join(f"{ln}\n" for ln in kept))

    def _boot(
        self,
        topo: topology.LabTopology,
        plans: Sequence[StackPlan],
        hostnames: list[str],
        manifest: dict,
        image: Path,
        say: Say,
    ) -> None:
        """Boot these nodes as full hosts, with the lab's proxy as their way out."""
        prereqs.inotify_headroom(len(manifest["nodes"]) + len(hostnames), say)
        leaves = sorted({s.cidr for p in plans for s in p.network.subnets.values()})
        proxy_url = proxy.start(str(topology.HOST_LINK_V4[0]), leaves, self.dir / "proxy")
        public_key = self._client_key()
        for hostname in hostnames:
            lab_node = topo.node(hostname)
            node_dir = confined(self.dir / "nodes", lab_node.hostname)
            entry, key = fullhost.start(lab_node, node_dir, image, public_key, proxy_url)
            self._known(lab_node.ssh_address, key)
            manifest["nodes"][lab_node.hostname] = entry
            self.write_manifest(manifest)
            fullhost.wait_ssh(lab_node)
            say(f"node {lab_node.hostname} ({lab_node.site}) booted at {lab_node.ssh_address}")

    def down(self, say: Say) -> list[str]:
        """Stop every process in the lab's namespaces, delete them and the lab directory.
        Also removes a lab an older dcn built with namespace nodes (their sshd and what
        it started are processes in the node's namespace)."""
        manifest = self.manifest()
        if manifest is None:
            return []
        namespaces = manifest["namespaces"]
        for entry in manifest["nodes"].values():
            if entry.get("kind") == fullhost.FULLHOST:  # an old lab's nodes have none
                fullhost.stop(entry)
        proxy.stop(self.dir / "proxy")
        present = fabric.existing_namespaces()
        self._stop_all([ns for ns in namespaces if ns in present])
        removed = fabric.remove(namespaces, manifest.get("host_link"))
        shutil.rmtree(self.dir, ignore_errors=True)
        say(f"removed {len(removed)} namespaces and {self.dir}")
        return removed

    def _stop_all(self, namespaces: list[str]) -> None:
        pids = {pid for ns in namespaces for pid in fabric.namespace_pids(ns)}
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + STOP_WAIT
            while time.monotonic() < deadline:
                pids = {p for p in pids if _alive(p)}
                if not pids:
                    return
                time.sleep(0.2)

    def nodes(self) -> dict[str, dict]:
        manifest = self.checked_manifest()
        return dict(manifest["nodes"]) if manifest else {}

    def status(self) -> list[dict]:
        """Per node: site, address, namespace present, machine running, processes running."""
        nodes = self.nodes()
        present = fabric.existing_namespaces()
        cut = set((self.manifest() or {}).get("cut", []))
        rows = []
        for hostname, info in sorted(nodes.items()):
            ns_ok = info["netns"] in present
            rows.append(
                {
                    "node": hostname,
                    "site": info["site"],
                    "address": info["ssh_address"],
                    "netns": ns_ok,
                    "kind": fullhost.FULLHOST,
                    "sshd": fullhost.running(info),
                    "processes": len(fabric.namespace_pids(info["netns"])) if ns_ok else 0,
                    "uplink": "cut" if info["site"] in cut else "up",
                }
            )
        return rows

    def exec_argv(self, hostname: str, command: Sequence[str]) -> list[str]:
        """argv running `command` inside a node (all its namespaces, its environment)."""
        return fullhost.exec_argv(self._node(hostname), list(command))

    def _node(self, hostname: str) -> dict:
        info = self.nodes().get(hostname)
        if info is None:
            raise DcnError(f"no lab node named {hostname}", hint="'dcn lab status' lists the nodes")
        return info

    def workloads(self) -> dict[str, Workload]:
        """The attached workloads, by server id."""
        manifest = self.checked_manifest() or {}
        return {k: Workload(**v) for k, v in manifest.get("workloads", {}).items()}

    def workload(self, server: str) -> Workload:
        """An attached workload by server id or name."""
        for w in self.workloads().values():
            if server in (w.server, w.name):
                return w
        raise DcnError(
            f"no workload is attached to server {server}",
            hint=f"attach one: dcn lab workload attach {server}",
        )

    def attach(self, workload: Workload) -> Lease:
        """Plug the workload into its node's br-int and let it ask DHCP for its address;
        recorded first, so 'dcn lab workload detach' finds a half-made one."""
        manifest = self.checked_manifest()
        if manifest is None:
            raise DcnError("no lab is up", hint="run 'dcn lab up'")
        manifest.setdefault("workloads", {})[workload.server] = workload.as_dict()
        self.write_manifest(manifest)
        done = run_in_node(self.exec_argv(workload.node, attach_argv(workload)))
        if done.returncode != 0:
            raise DcnError(
                f"lab workload for {workload.name} on {workload.node}: "
                f"{(done.stderr.strip().splitlines() or ['failed'])[-1]}",
                hint=f"'dcn lab workload detach {workload.name}' removes what was made",
            )
        return parse_lease(done.stdout)

    def detach(self, workload: Workload) -> None:
        if self.nodes().get(workload.node) is not None:
            run_in_node(self.exec_argv(workload.node, detach_argv(workload)))
        manifest = self.checked_manifest() or {}
        manifest.get("workloads", {}).pop(workload.server, None)
        if manifest:
            self.write_manifest(manifest)

    def workload_argv(self, workload: Workload, command: Sequence[str]) -> list[str]:
        """argv running `command` inside the workload (its node, then its namespace)."""
        return self.exec_argv(workload.node, workload_exec_argv(workload, command))

    def node_action(self, hostname: str, what: str) -> str:
        """Stop a node like a host losing power, start it, or reboot it."""
        info = self._node(hostname)
        state = fullhost.action(info, what)
        if what != "stop":
            fullhost.wait_ssh(topology_node(info))
        return state


def topology_node(info: dict) -> topology.LabNode:
    """The parts of a LabNode a manifest entry keeps (enough to wait for its sshd)."""
    return topology.LabNode(info["site"], info["hostname"], info["netns"], info["ssh_address"], {})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
