"""What the playbook receives for one node: its units with secrets filled in.

This is the one place where plan (secret references) meets values. The result goes
only into the run's private directory (0700/0600) and is deleted after the run; the
playbook marks every task that handles it ``no_log``.

Idempotence is decided here, so the playbook stays thin:
- a process's ``digest`` covers its declaration and the delivered content of its
  service's files; it is written into the process's systemd unit (`dcn.deploy.units`),
  and the node's ``unitctl.py`` restarts the unit exactly when the running process
  has another digest, so it restarts exactly when something it reads changed;
- a step's marker file name carries a digest of its command, environment, the files it
  depends on and (unless ``once``) the OpenStack release, so it runs again exactly
  when one of those changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from dcn.deploy import units
from dcn.export.document import substitute_secrets
from dcn.lab.prereqs import OPENSTACK_REQUIREMENTS, constraints_file
from dcn.node import source
from dcn.plan.types import NodePlan, ProcessSpec, StepSpec, UnitPlan, canonical_json

#: where node programs and markers live on a node
NODE_HOME = "/var/lib/dcn"
UNITCTL = f"{NODE_HOME}/unitctl.py"
NODE_PROGRAMS = ("unitctl.py", "probe.py")
STEP_MARKERS = f"{NODE_HOME}/steps"
#: the node's Python for dcn's own node programs (standard library only)
NODE_PYTHON = "/usr/bin/python3"
VENV = "/opt/dcn/venv"
#: runs a step, then records its marker; the marker path comes through the environment
_STEP_WRAPPER = '"$@" && mkdir -p "${DCN_STEP_MARKER%/*}" && : > "$DCN_STEP_MARKER"'


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _process(spec: ProcessSpec, files_digest: str, on_node: Mapping[str, str]) -> dict[str, Any]:
    """`on_node`: process name -> unit of every process of the node (its backends).
    The digest covers the unit as rendered (not the declaration's fields: a field added
    to ProcessSpec that renders the same restarts nothing) and the service's files."""
    after = [on_node[name] for name in spec.after if name in on_node]
    digest = _sha(units.render(spec, "0", after), files_digest)[:16]
    return {
        "name": spec.name,
        "unit": units.unit_name(spec),
        "digest": digest,
        "path": units.unit_path(spec),
        "content": units.render(spec, digest, after),
        "health_port": spec.health_port,
    }


def _step(
    unit: str,
    step: StepSpec,
    delivered: Mapping[str, str],
    secrets: Mapping[str, str],
    release: str,
) -> dict[str, Any]:
    env = substitute_secrets(dict(step.env), secrets)
    depends = [delivered[p] for p in step.rerun_on if p in delivered]
    key = _sha(
        canonical_json(list(step.command)),
        canonical_json(env),
        *depends,
        "" if step.once else release,
    )[:16]
    marker = f"{STEP_MARKERS}/{unit}.{step.name}.{key}"
    return {
        "name": step.name,
        "argv": ["/bin/sh", "-c", _STEP_WRAPPER, "dcn-step", *step.command],
        "env": {**env, "DCN_STEP_MARKER": marker},
        "marker": marker,
        "phase": step.phase,
        # hide a step's task output only when its environment carries a secret
        "secret": bool(step.env),
    }


def _parents(paths: list[str], declared: set[str]) -> list[dict[str, str]]:
    """Parent directories of files that no unit declares (root, 0755)."""
    out: dict[str, dict[str, str]] = {}
    for path in paths:
        parent = str(PurePosixPath(path).parent)
        if parent not in declared and parent != "/":
            out[parent] = {"path": parent, "owner": "root", "mode": "0755"}
    return list(out.values())


def _unit(
    node: NodePlan,
    unit: UnitPlan,
    secrets: Mapping[str, str],
    release: str,
    on_node: Mapping[str, str],
) -> dict[str, Any]:
    files = []
    delivered: dict[str, str] = {}
    for path in unit.files:
        spec = node.files[path]
        content = substitute_secrets(spec.content, secrets) if spec.secrets else spec.content
        delivered[path] = content
        files.append({"path": path, "content": content, "mode": spec.mode, "owner": spec.owner})
    unit_digest = _sha(*(f"{p}\0{c}" for p, c in sorted(delivered.items())))
    processes = [_process(p, unit_digest, on_node) for p in unit.processes]
    dirs = [{"path": d.path, "owner": d.owner, "mode": d.mode} for d in unit.dirs]
    written = [*delivered, *(p["path"] for p in processes)]
    dirs = _parents(written, {d["path"] for d in dirs}) + dirs
    steps = [_step(unit.service, s, delivered, secrets, release) for s in unit.steps]
    return {
        "service": unit.service,
        "dirs": dirs,
        "files": files,
        "pre": [s for s in steps if s["phase"] == "pre"],
        "post": [s for s in steps if s["phase"] == "post"],
        "processes": processes,
    }


#: every node: the Python that runs the node programs and builds the venv
BASE_PACKAGES = ("python3", "python3-venv")


def node_vars(node: NodePlan, secrets: Mapping[str, str], release: str) -> dict[str, Any]:
    """Host variables of one node for the deploy playbook (holds secret values)."""
    packages = sorted({*BASE_PACKAGES, *(p for u in node.units for p in u.packages)})
    on_node = {p.name: units.unit_name(p) for p in node.processes}
    return {
        "dcn_packages": packages,
        # package units dcn runs processes as: kept stopped until dcn configured them
        "dcn_packaged_units": sorted({u for unit in node.units for u in unit.packaged_units}),
        "dcn_venv": VENV,
        "dcn_venv_stamp": f"{VENV}/.dcn-stamp-{release[:16]}",
        "dcn_venv_requirements": list(OPENSTACK_REQUIREMENTS),
        "dcn_constraints": constraints_file().read_text(),
        "dcn_node_home": NODE_HOME,
        # node programs dcn runs there: the units' control, the health probe
        "dcn_node_programs": [
            {"path": f"{NODE_HOME}/{name}", "content": source(name)} for name in NODE_PROGRAMS
        ],
        "dcn_node_python": NODE_PYTHON,
        "dcn_unitctl": UNITCTL,
        "dcn_processes": sorted(on_node),
        "dcn_units": [_unit(node, u, secrets, release, on_node) for u in node.units],
        # where health ports answer (services listen on the internal API address)
        "dcn_listen_host": node.addresses.get("internal_api") or node.addresses["ctlplane"],
    }
