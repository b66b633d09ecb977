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
import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from dcn.deploy import units
from dcn.export.document import substitute_secrets
from dcn.lab.prereqs import OPENSTACK_REQUIREMENTS, constraints_file
from dcn.node import source
from dcn.plan.types import (
    SECRET_PREFIX,
    NodePlan,
    ProcessSpec,
    StepSpec,
    UnitPlan,
    canonical_json,
)

#: where node programs and markers live on a node
NODE_HOME = "/var/lib/dcn"
UNITCTL = f"{NODE_HOME}/unitctl.py"
APPLY = f"{NODE_HOME}/apply.py"
NODE_PROGRAMS = ("unitctl.py", "apply.py", "probe.py", "cluster.py")
STEP_MARKERS = f"{NODE_HOME}/steps"
#: the node's Python for dcn's own node programs (standard library only)
NODE_PYTHON = "/usr/bin/python3"
VENV = "/opt/dcn/venv"


#: installs the node programs (JSON on stdin: the node's home and the programs), before
#: anything else of a deploy: removes the paths given as arguments (the applied stamp,
#: `dcn.deploy.applied`), then writes
#: each program whose bytes differ; prints what it wrote. Standard library, no file of
#: its own: it is what puts the node's files there.
INSTALL = """
import json, os, sys
doc = json.load(sys.stdin)
for path in filter(None, sys.argv[1:]):
    if os.path.lexists(path):
        os.unlink(path)
os.makedirs(doc["home"], mode=0o755, exist_ok=True)
for program in doc["programs"]:
    path, data = program["path"], program["content"].encode()
    try:
        with open(path, "rb") as f:
            same = f.read() == data
    except OSError:
        same = False
    if not same:
        with open(path + ".new", "wb") as f:
            f.write(data)
        os.chmod(path + ".new", 0o755)
        os.replace(path + ".new", path)
        print(path)
    elif os.stat(path).st_mode & 0o7777 != 0o755:
        os.chmod(path, 0o755)
        print(path)
"""


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
    release: str,
    secret_files: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A step as the node applies it. Its environment is the declaration's, which holds
    no secret: the step specification goes to the node in the clear (a step reads a
    secret from a delivered file). A step that reads a secret-bearing file is `quiet`:
    its output (an SQL error quoting a statement, say) is kept on the node, never
    shown."""
    if any(SECRET_PREFIX in v for v in step.env.values()):
        raise ValueError(f"{unit}: step {step.name}'s environment references a secret")
    depends = [delivered[p] for p in step.rerun_on if p in delivered]
    key = _sha(
        canonical_json(list(step.command)),
        canonical_json(dict(step.env)),
        *depends,
        "" if step.once else release,
    )[:16]
    return {
        "name": step.name,
        "argv": list(step.command),
        "env": dict(step.env),
        "marker": f"{STEP_MARKERS}/{unit}.{step.name}.{key}",
        "phase": step.phase,
        "quiet": any(path in secret_files for path in step.rerun_on),
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
    secret_files = frozenset(p for p in unit.files if node.files[p].secrets)
    steps = [_step(unit.service, s, delivered, release, secret_files) for s in unit.steps]
    return {
        "service": unit.service,
        "dirs": dirs,
        "files": files,
        "pre": [s for s in steps if s["phase"] == "pre"],
        "post": [s for s in steps if s["phase"] == "post"],
        "processes": processes,
    }


def node_units(node: NodePlan, secrets: Mapping[str, str], release: str) -> list[dict[str, Any]]:
    """The node's units as delivered (secret values filled in), in deploy order."""
    on_node = {p.name: units.unit_name(p) for p in node.processes}
    return [_unit(node, u, secrets, release, on_node) for u in node.units]


def levels(unit_plans: Sequence[UnitPlan]) -> list[list[int]]:
    """The units that run something (steps, processes), by index, in levels: a unit
    comes one level after the last of those it needs (`UnitPlan.needs`; None: every
    unit before it), so the units of a level need nothing of each other and apply
    side by side. Units that only hold files have no level (files are written first)."""
    level: dict[str, int] = {}
    out: list[list[int]] = []
    for index, unit in enumerate(unit_plans):
        if not (unit.steps or unit.processes):
            continue
        before = list(level) if unit.needs is None else [n for n in unit.needs if n in level]
        at = max((level[n] + 1 for n in before), default=0)
        level[unit.service] = at
        if at == len(out):
            out.append([])
        out[at].append(index)
    return out


def _json(doc: Any) -> str:
    """JSON for a playbook variable: a leading newline, or Ansible would evaluate a
    text that starts with "{" as a Python literal and hand the module a dict's repr."""
    return "\n" + json.dumps(doc, sort_keys=True)


#: every node: the Python that runs the node programs and builds the venv
BASE_PACKAGES = ("python3", "python3-venv")


def node_vars(node: NodePlan, secrets: Mapping[str, str], release: str) -> dict[str, Any]:
    """Host variables of one node for the deploy playbook (holds secret values).

    What the node's units write goes as one document (``dcn_write``, applied by the
    node's ``apply.py write`` in one call); what they run goes level by level
    (``dcn_levels``, each applied by one ``apply.py units`` call), with no secret."""
    delivered = node_units(node, secrets, release)
    listen = node.addresses.get("internal_api") or node.addresses["ctlplane"]
    # a path several units write (nova.conf of every nova service) once, as written last
    dirs = {d["path"]: d for u in delivered for d in u["dirs"]}
    files = {f["path"]: f for u in delivered for f in u["files"]}
    for unit in delivered:
        for p in unit["processes"]:
            files[p["path"]] = {
                "path": p["path"],
                "content": p["content"],
                "mode": "0644",
                "owner": "root",
            }
    run_keys = ("service", "pre", "post")
    process_keys = ("name", "unit", "digest", "health_port")
    node_levels = []
    for indexes in levels(node.units):
        todo = [
            {
                **{k: delivered[i][k] for k in run_keys},
                "processes": [{k: p[k] for k in process_keys} for p in delivered[i]["processes"]],
            }
            for i in indexes
        ]
        node_levels.append(
            {
                "services": ", ".join(u["service"] for u in todo),
                "spec": _json({"listen_host": listen, "units": todo}),
            }
        )
    packages = sorted({*BASE_PACKAGES, *(p for u in node.units for p in u.packages)})
    return {
        "dcn_packages": packages,
        # package units dcn runs processes as: kept stopped until dcn configured them
        "dcn_packaged_units": sorted({u for unit in node.units for u in unit.packaged_units}),
        "dcn_venv": VENV,
        "dcn_venv_stamp": f"{VENV}/.dcn-stamp-{release[:16]}",
        "dcn_venv_requirements": list(OPENSTACK_REQUIREMENTS),
        "dcn_constraints": constraints_file().read_text(),
        "dcn_node_home": NODE_HOME,
        # node programs dcn runs there: the units' control and apply, the health probe
        "dcn_install": INSTALL,
        "dcn_programs": _json(
            {
                "home": NODE_HOME,
                "programs": [
                    {"path": f"{NODE_HOME}/{name}", "content": source(name)}
                    for name in NODE_PROGRAMS
                ],
            }
        ),
        "dcn_node_python": NODE_PYTHON,
        "dcn_unitctl": UNITCTL,
        "dcn_apply": APPLY,
        "dcn_processes": sorted(p.name for p in node.processes),
        "dcn_write": _json(
            {
                "keep": sorted(p.name for p in node.processes),
                "dirs": list(dirs.values()),
                "files": list(files.values()),
            }
        ),
        "dcn_levels": node_levels,
    }
