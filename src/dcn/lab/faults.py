"""Faults the lab can inject: a site's uplink cut and healed, one service stopped,
started again or killed on one node. Each is one command, reversible, recorded in the
lab's manifest (cuts), so `dcn lab status` and `heal` know what is cut."""

from __future__ import annotations

import subprocess

from dcn.deploy.bundle import NODE_PYTHON, UNITCTL
from dcn.errors import DcnError
from dcn.lab import Lab


def _leaf(lab: Lab, site: str) -> str:
    manifest = lab.manifest()
    if manifest is None:
        raise DcnError("no lab is up", hint="run 'dcn lab up'")
    if site not in manifest.get("sites", {}):
        raise DcnError(
            f"no site {site} in the lab", hint="sites: " + ", ".join(sorted(manifest["sites"]))
        )
    return f"dcn-{lab.deployment}-leaf-{site}"


def set_uplink(lab: Lab, site: str, up: bool) -> bool:
    """Cut (up=False) or heal a site's uplink to the spine; True if it changed."""
    leaf = _leaf(lab, site)
    manifest = lab.manifest() or {}
    cut = set(manifest.get("cut", []))
    if (site not in cut) == up:
        return False
    subprocess.run(
        ["ip", "-n", leaf, "link", "set", "dev", "uplink", "up" if up else "down"],
        check=True,
        capture_output=True,
    )
    if up:
        # the kernel dropped the routes through the link when it went down
        for ns, commands in manifest.get("routes", {}).get(site, {}).items():
            lines = "".join(c.replace("route add ", "route replace ", 1) + "\n" for c in commands)
            result = subprocess.run(
                ["ip", "-n", ns, "-batch", "-"], input=lines, text=True, capture_output=True
            )
            if result.returncode != 0:
                raise DcnError(
                    f"healing {site}: routes in {ns} could not be restored: "
                    f"{result.stderr.strip()}",
                    hint="'dcn lab down' then 'dcn lab up' rebuilds the fabric",
                )
    if up:
        cut.discard(site)
    else:
        cut.add(site)
    manifest["cut"] = sorted(cut)
    lab.write_manifest(manifest)
    return True


def cut_sites(lab: Lab) -> list[str]:
    return list((lab.manifest() or {}).get("cut", []))


def service(lab: Lab, node: str, action: str, name: str) -> str:
    """systemctl on a process's unit: stop (it stays stopped), start, or kill (SIGKILL,
    a crash: its unit's Restart=on-failure brings it back)."""
    if action not in ("stop", "start", "kill"):
        raise DcnError(f"unknown action {action}", hint="stop, start or kill")
    argv = lab.exec_argv(node, [NODE_PYTHON, UNITCTL, action, name])
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DcnError(
            f"{action} {name} on {node} failed: {result.stderr.strip() or result.stdout.strip()}",
            hint=f"'dcn lab exec {node} {NODE_PYTHON} {UNITCTL} status' lists its processes",
        )
    return result.stdout.strip()


def units_status(lab: Lab, node: str) -> dict:
    """Process name -> its unit's state on the node (state, pid, restarts, digest...)."""
    import json

    argv = lab.exec_argv(node, [NODE_PYTHON, UNITCTL, "status"])
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        return json.loads(result.stdout or "{}")
    except ValueError:
        return {}
